"""The answer flow, as named steps over plain data:

question (+history) -> condense -> retrieve -> gate (refuse early?) -> focus passages -> prompt -> generate
(streamed) -> check citations, drop what no paper backs -> Answer.

`Pipeline` is the one object the CLI, the UI and the evaluation use; it also hands topic requests to the
Summarizer it was built with (rag.build makes both from the same parts).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Iterator, Protocol, Sequence

from rag.answer.citations import CheckedAnswer, SupportChecker, check_citations
from rag.answer.policy import check_question, is_cannot_answer, quantity_gaps, retrieval_evidence, weak_evidence
from rag.answer.prompt import build_messages
from rag.condense import question_in_context, standalone_query
from rag.filters import describe
from rag.generators.base import Generator
from rag.retrieve import HybridRetriever
from rag.settings import DEFAULTS, Settings
from rag.text import CANNOT_ANSWER, content_words
from rag.types import AbstainReason, Answer, Hit, Message, Summary


class TopicSummarizer(Protocol):
    def summarize(self, topic: str, **kw) -> Summary | Iterator[str | Summary]: ...


@dataclass
class Retrieved:
    """One question after retrieval: what every later step reads."""
    question: str
    query: str                              # the standalone retrieval query
    vector: list[float]                     # its embedding, made once
    hits: list[Hit]
    evidence: dict[str, float]
    where: dict | None = None
    t0: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


class Pipeline:
    """Answers questions (and, through its summarizer, topics) from a retriever, a generator and a checker."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, *,
                 settings: Settings = DEFAULTS, summarizer: TopicSummarizer | None = None, embedder_name: str = ""):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.settings, self.policy, self.summarizer = settings, settings.policy, summarizer
        self.model_info = {"generator": getattr(generator, "name", type(generator).__name__),
                           "embedder": embedder_name or getattr(checker.embedder, "name", "")}

    def facets(self) -> dict[str, list]:
        """Years and categories present in the collection (for the UI's filters)."""
        return self.retriever.facets()

    def validate(self, question: str) -> str:
        return check_question(question, self.settings.max_question_chars)

    # -- the steps -------------------------------------------------------------------------------------------
    def retrieve(self, question: str, history: Sequence[Message], top_k: int, where: dict | None) -> Retrieved:
        """Condense the follow-up, embed the query once, retrieve, and read the evidence signals."""
        t0 = time.perf_counter()
        query = standalone_query(question, history)
        vector = self.checker.embedder.embed([query])[0]
        hits = self.retriever.retrieve(query, top_k, where=where, vector=vector)
        evidence = retrieval_evidence(query, hits, self.retriever.bm25, self.policy)
        return Retrieved(question, query, vector, hits, evidence, where, t0,
                         {"retrieve_s": time.perf_counter() - t0})

    def gate(self, r: Retrieved) -> AbstainReason | None:
        """Refuse before generating when nothing retrieved can answer."""
        if r.where and not r.hits:
            return AbstainReason.FILTER_MATCHES_NOTHING
        if not r.hits or not content_words(r.query) or weak_evidence(r.evidence, self.policy):
            return AbstainReason.WEAK_EVIDENCE
        return None

    def focus(self, r: Retrieved) -> list[Hit]:
        """Hits whose passage is only the abstract sentences closest to the query: a short prompt is a fast one."""
        self.checker.prefetch([h.paper for h in r.hits])
        return [Hit(paper=h.paper, score=h.score, dense=h.dense, bm25=h.bm25,
                    passages=[self.checker.relevant_sentences(r.query, h.paper, vector=r.vector,
                                                              max_words=self.settings.passage_words)])
                for h in r.hits]

    def generate(self, messages: list[Message], max_new_tokens: int, r: Retrieved) -> Iterator[str]:
        """Stream the model's draft; returns the whole draft."""
        parts: list[str] = []
        for token in self.generator.stream(messages, max_new_tokens=max_new_tokens):
            if not parts:
                r.timings["first_token_s"] = time.perf_counter() - r.t0
            parts.append(token)
            yield token
        return "".join(parts).strip()

    def extract(self, r: Retrieved) -> str | None:
        """The best-matching abstract sentence among the top papers, cited, or None if none is close."""
        best = (0.0, "", 0)
        for n, hit in enumerate(r.hits[:self.policy.evidence_papers], 1):
            for score, sentence in zip(self.checker.rank_sentences(r.query, hit.paper, r.vector),
                                       self.checker.sentences(hit.paper)):
                if score > best[0]:
                    best = (score, sentence, n)
        score, sentence, n = best
        if score < self.policy.min_extractive:
            return None
        return f"{sentence.rstrip('.!? ')} [{n}]."

    def verify(self, r: Retrieved, draft: str) -> CheckedAnswer | AbstainReason:
        """The checked answer (only sentences a cited paper backs), or why there is none."""
        if is_cannot_answer(draft) or not draft:
            return AbstainReason.MODEL
        checked = check_citations(draft, r.hits, self.checker, question=r.question)
        if all(s.supported is None for s in checked.sentences):
            # The draft says nothing (a list of titles, bare markers): answer with the sentence of the
            # top papers that best answers the question, if one is close enough.
            fallback = self.extract(r)
            if fallback is None:
                return AbstainReason.NO_CONTENT
            checked = check_citations(fallback, r.hits, self.checker, question=r.question)
            r.evidence["extractive"] = 1.0
        if self.policy.drop_unsupported:
            kept = [s.text for s in checked.sentences if s.supported]
            r.evidence["dropped_sentences"] = float(len(checked.sentences) - len(kept))
            if not kept:
                return AbstainReason.UNSUPPORTED
            if len(kept) < len(checked.sentences):
                checked = check_citations(" ".join(kept), r.hits, self.checker, question=r.question)
        if self.policy.numbers_for_quantities:
            cited = {c.marker for c in checked.citations}
            text = " ".join(self.checker.evidence_text(h.paper) for n, h in enumerate(r.hits, 1) if n in cited)
            gaps = quantity_gaps(r.question, checked.text, text)
            if gaps:
                return gaps[0]
        return checked

    # -- the whole flow --------------------------------------------------------------------------------------
    def stream(self, question: str, *, history: Sequence[Message] | None = None, top_k: int | None = None,
               max_new_tokens: int | None = None, where: dict | None = None) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the checked `Answer` last."""
        question = self.validate(question)
        history = [m for m in (history or []) if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
        r = self.retrieve(question, history, top_k or self.settings.top_k, where)
        reason = self.gate(r)
        if reason is not None:
            answer = self.refusal(r, reason)
            yield answer.answer
            yield answer
            return
        messages = build_messages(question_in_context(question, history), self.focus(r))
        draft = yield from self.generate(messages, max_new_tokens or self.settings.max_new_tokens, r)
        checked = self.verify(r, draft)
        if isinstance(checked, AbstainReason):
            yield self.refusal(r, checked, draft)
            return
        yield self.answer(r, checked, draft)

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

    # -- results ---------------------------------------------------------------------------------------------
    def refusal(self, r: Retrieved, reason: AbstainReason, draft: str = "") -> Answer:
        text = CANNOT_ANSWER
        if reason is AbstainReason.FILTER_MATCHES_NOTHING:
            text = f"{CANNOT_ANSWER} No paper in the collection matches the filter ({describe(r.where)})."
        self._finish(r)
        return Answer(question=r.question, answer=text, abstained=True, citations=[], sources=r.hits,
                      timings=r.timings, model=self.model_info, query=r.query,
                      related=r.hits[:self.policy.evidence_papers], evidence=r.evidence, draft=draft,
                      abstain_reason=reason)

    def answer(self, r: Retrieved, checked: CheckedAnswer, draft: str) -> Answer:
        self._finish(r)
        evidence = {"extractive": 0.0, **r.evidence, "attached": float(checked.attached), "repaired": float(checked.repaired)}
        return Answer(question=r.question, answer=checked.text, abstained=False, citations=checked.citations,
                      sources=r.hits, timings=r.timings, model=self.model_info, query=r.query,
                      evidence=evidence, draft=draft)

    @staticmethod
    def _finish(r: Retrieved) -> None:
        r.timings["total_s"] = time.perf_counter() - r.t0
        r.timings.setdefault("first_token_s", r.timings["total_s"])
