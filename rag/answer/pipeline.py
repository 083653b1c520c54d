"""The one object the CLI, the UI and the evaluation ask: it validates the question and hands it to the path
that answers it (rag.answer.single for a question about one paper; topics go to the Summarizer it was built
with; rag.build makes all of them from the same parts)."""
from __future__ import annotations

from typing import Iterator, Protocol, Sequence

from rag.answer.citations import SupportChecker
from rag.answer.multi import MultiAnswer
from rag.answer.policy import check_question
from rag.answer.route import MULTI, SUMMARY, route_question
from rag.answer.single import SingleAnswer
from rag.generators.base import Generator
from rag.retrieve import HybridRetriever
from rag.settings import DEFAULTS, Settings
from rag.types import Answer, Message, Summary


class TopicSummarizer(Protocol):
    def summarize(self, topic: str, **kw) -> Summary | Iterator[str | Summary]: ...


class Pipeline:
    """Answers questions (and, through its summarizer, topics) from a retriever, a generator and a checker."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, *,
                 settings: Settings = DEFAULTS, summarizer: TopicSummarizer | None = None, embedder_name: str = ""):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.settings, self.policy, self.summarizer = settings, settings.policy, summarizer
        self.model_info = {"generator": getattr(generator, "name", type(generator).__name__),
                           "embedder": embedder_name or getattr(checker.embedder, "name", "")}
        self.single = SingleAnswer(retriever, generator, checker, settings, self.model_info)
        self.multi = MultiAnswer(retriever, generator, checker, settings, self.model_info)

    def facets(self) -> dict[str, list]:
        """Years and categories present in the collection (for the UI's filters)."""
        return self.retriever.facets()

    def validate(self, question: str) -> str:
        return check_question(question, self.settings.max_question_chars)

    def stream(self, question: str, *, history: Sequence[Message] | None = None, top_k: int | None = None,
               max_new_tokens: int | None = None, where: dict | None = None) -> Iterator[str | Answer]:
        """Yield the answer's checked sentences as they are shown, then the `Answer` last (its `route` says which
        path answered: rag.answer.route)."""
        question = self.validate(question)
        history = [m for m in (history or []) if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
        route = route_question(question)

        def single():
            return self.single.stream(question, history, top_k=top_k or self.settings.top_k,
                                      max_new_tokens=max_new_tokens or self.settings.max_new_tokens, where=where)
        if route == SUMMARY and self.summarizer is not None:
            yield from self._summary(question, where)
        elif route == MULTI:
            yield from self.multi.stream(question, where=where, otherwise=single)
        else:
            yield from single()

    def _summary(self, topic: str, where: dict | None) -> Iterator[str | Answer]:
        """A summary asked for as a question: only its checked text is shown (the draft is not)."""
        summary = self.summarizer.summarize(topic, where=where)
        summary.route = SUMMARY
        yield summary.answer
        yield summary

    def ask(self, question: str, **kw) -> Answer:
        """The whole answer at once."""
        answer = None
        for item in self.stream(question, **kw):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def summarize(self, topic: str, **kw):
        """A cited summary across every relevant paper (rag.answer.summarize.Summarizer)."""
        if self.summarizer is None:
            raise RuntimeError("this pipeline was built without a summarizer (see rag.build.build_pipeline)")
        return self.summarizer.summarize(topic, **kw)
