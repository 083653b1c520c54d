"""question (+history) -> condense -> retrieve -> evidence gate -> prompt -> generate (stream) -> cite & verify -> Answer."""
from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

from rag.citations import SupportChecker, check_citations, content_words, numbers_in, strip_markers
from rag.condense import question_in_context, standalone_query
from rag.errors import InputError
from rag.filters import describe
from rag.generate import Generator
from rag.prompt import CANNOT_ANSWER, build_messages
from rag.retrieve import HybridRetriever, coverage
from rag.types import Answer, Hit, Message


QUANTITY_QUESTION = re.compile(r"\b(how (?:many|much|large|long|fast|big)|by how)\b", re.I)
# "What <metric> does X reach": the metric must be one the cited paper reports.
METRIC_QUESTION = re.compile(
    r"\bwhat\b[^?]{0,40}?\b(mean average precision|accuracy|top-[15](?: accuracy)?|auc|map|f1|bleu|rouge|"
    r"recall(?:@\d+)?|precision|error|score|perplexity|speed-?up|improvement|percentage|fraction|rate)\b", re.I)


# Metrics a paper names when it reports them; "accuracy" or "error" is often only implied by a "%".
NAMED_METRICS = {"mean average precision", "auc", "map", "f1", "bleu", "rouge", "perplexity", "top 1", "top 5",
                 "top 1 accuracy", "top 5 accuracy"} | {f"recall@{k}" for k in (1, 5, 10, 20, 50, 100)}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[-_/]", " ", text.lower()).split())


def quantity_gaps(question: str, answer: str, cited_text: str) -> list[str]:
    """Why an answer to a "how many / what accuracy" question is not one: no backed number, a metric
    the cited papers never mention, or a number the question names that the papers do not contain."""
    gaps = []
    metric = METRIC_QUESTION.search(question)
    if (QUANTITY_QUESTION.search(question) or metric) and not numbers_in(strip_markers(answer)):
        gaps.append("no_number")
    if metric and _norm(metric.group(1)) in NAMED_METRICS and _norm(metric.group(1)) not in _norm(cited_text):
        gaps.append("metric_not_reported")
    if numbers_in(question) - numbers_in(cited_text):
        gaps.append("question_number_missing")
    return gaps


@dataclass(frozen=True)
class AbstainPolicy:
    """When to refuse. Thresholds calibrated on the dev set's unanswerable + paraphrase questions."""
    min_dense: float = 0.30        # best passage cosine of the top 3 papers; below it nothing is on topic
    min_coverage: float = 0.30     # IDF-weighted share of the query's words in the top-3 papers ...
    min_dense_low_coverage: float = 0.40   # ... which a low-coverage (paraphrased) question needs instead
    drop_unsupported: bool = True  # answer only with sentences a cited paper backs; none left -> refuse
    numbers_for_quantities: bool = True    # "how many / what accuracy" questions need a backed number
    min_extractive: float = 0.60   # relevance (cosine + word overlap / 2) an extracted sentence needs

    def weak_evidence(self, evidence: dict[str, float]) -> bool:
        if evidence["dense"] < self.min_dense:
            return True
        return evidence["coverage"] < self.min_coverage and evidence["dense"] < self.min_dense_low_coverage


def is_cannot_answer(text: str) -> bool:
    """The model gave the cannot-answer phrase (or its opening words) instead of an answer."""
    t = " ".join(text.lower().split())
    return CANNOT_ANSWER.lower()[:40] in t or t.startswith("the papers in this collection do not")


def check_question(question: str, max_chars: int = 2000) -> str:
    """The question with whitespace normalised, or an InputError saying what is wrong with it."""
    question = " ".join(str(question or "").split())
    if not question:
        raise InputError("the question is empty; type a question about the papers")
    if len(question) > max_chars:
        raise InputError(f"the question is {len(question)} characters long; the limit is {max_chars}, "
                         "so shorten it")
    return question


class Pipeline:
    """The one object the CLI, UI and evaluation use to answer questions."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, *,
                 top_k: int = 5, max_new_tokens: int = 160, max_question_chars: int = 2000,
                 policy: AbstainPolicy = AbstainPolicy(), embedder_name: str = "", passage_words: int = 90):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.top_k, self.max_new_tokens, self.max_question_chars = top_k, max_new_tokens, max_question_chars
        self.policy = policy
        self.passage_words = passage_words
        self.model_info = {"generator": getattr(generator, "name", type(generator).__name__),
                           "embedder": embedder_name or getattr(checker.embedder, "name", "")}

    def facets(self) -> dict[str, list]:
        """Years and categories present in the collection (for the UI's filters)."""
        return self.retriever.facets()

    def validate(self, question: str) -> str:
        return check_question(question, self.max_question_chars)

    def evidence(self, query: str, hits: Sequence[Hit]) -> dict[str, float]:
        return {"coverage": coverage(query, hits, self.retriever.bm25) if hits else 0.0,
                "dense": max((h.dense for h in hits[:3]), default=0.0),
                "bm25": max((h.bm25 for h in hits[:3]), default=0.0)}

    def focus(self, query: str, hits: Sequence[Hit], vector: Sequence[float] | None = None) -> list[Hit]:
        """Hits whose passage is only the abstract sentences closest to the query: a short prompt is a fast one."""
        vector = vector if vector is not None else self.checker.embedder.embed([query])[0]
        self.checker.prefetch([h.paper for h in hits])
        return [Hit(paper=h.paper, score=h.score, dense=h.dense, bm25=h.bm25,
                    passages=[self.checker.relevant_sentences(query, h.paper, max_words=self.passage_words,
                                                              vector=vector)])
                for h in hits]

    def extract(self, query: str, hits: Sequence[Hit], top: int = 3,
                vector: Sequence[float] | None = None) -> str | None:
        """The best-matching abstract sentence among the top papers, cited, or None if none is close."""
        vector = vector if vector is not None else self.checker.embedder.embed([query])[0]
        best = (0.0, "", 0)
        for n, hit in enumerate(hits[:top], 1):
            for score, sentence in zip(self.checker.rank_sentences(query, hit.paper, vector),
                                       self.checker.sentences(hit.paper)):
                if score > best[0]:
                    best = (score, sentence, n)
        score, sentence, n = best
        if score < self.policy.min_extractive:
            return None
        return f"{sentence.rstrip('.!? ')} [{n}]."

    def stream(self, question: str, *, history: Sequence[Message] | None = None, top_k: int | None = None,
               max_new_tokens: int | None = None, where: dict | None = None) -> Iterator[str | Answer]:
        """Yield answer text as it is generated, then the checked `Answer` last."""
        t0 = time.perf_counter()
        question = self.validate(question)
        history = [m for m in (history or []) if isinstance(m, dict) and m.get("role") in ("user", "assistant")]
        query = standalone_query(question, history)
        vector = self.checker.embedder.embed([query])[0]      # embedded once, used by every step below
        hits = self.retriever.retrieve(query, top_k or self.top_k, where=where, vector=vector)
        t_retrieved = time.perf_counter()
        evidence = self.evidence(query, hits)
        timings = {"retrieve_s": t_retrieved - t0}

        raw = ""

        def refuse(reason: str, text: str = CANNOT_ANSWER) -> Answer:
            timings["total_s"] = time.perf_counter() - t0
            timings.setdefault("first_token_s", timings["total_s"])
            return Answer(question=question, answer=text, abstained=True, citations=[], sources=hits,
                          timings=timings, model=self.model_info, query=query, related=hits[:3],
                          evidence={**evidence, "abstain_reason_" + reason: 1.0}, draft=raw)

        if where and not hits:
            text = f"{CANNOT_ANSWER} No paper in the collection matches the filter ({describe(where)})."
            yield text
            yield refuse("filter_matches_nothing", text)
            return
        if not hits or not content_words(query) or self.policy.weak_evidence(evidence):
            yield CANNOT_ANSWER
            yield refuse("weak_evidence")
            return
        messages = build_messages(question_in_context(question, history), self.focus(query, hits, vector))
        parts: list[str] = []
        for token in self.generator.stream(messages, max_new_tokens=max_new_tokens or self.max_new_tokens):
            if not parts:
                timings["first_token_s"] = time.perf_counter() - t0
            parts.append(token)
            yield token
        raw = "".join(parts).strip()
        if is_cannot_answer(raw) or not raw:
            yield refuse("model")
            return
        checked = check_citations(raw, hits, self.checker, question=question)
        extractive = False
        if all(s["supported"] is None for s in checked.sentences):
            # The draft says nothing (a list of titles, bare markers): answer with the sentence of the
            # top papers that best answers the question, if one is close enough.
            fallback = self.extract(query, hits, vector=vector)
            if fallback is None:
                yield refuse("no_content")
                return
            checked = check_citations(fallback, hits, self.checker, question=question)
            extractive = True
        dropped = 0
        if self.policy.drop_unsupported:
            kept = [s["text"] for s in checked.sentences if s["supported"]]
            dropped = len(checked.sentences) - len(kept)
            if not kept:
                yield refuse("unsupported")
                return
            if dropped:
                checked = check_citations(" ".join(kept), hits, self.checker, question=question)
        if self.policy.numbers_for_quantities:
            cited = " ".join(self.checker.evidence_text(h.paper) for n, h in enumerate(hits, 1)
                             if n in {c.marker for c in checked.citations})
            gaps = quantity_gaps(question, checked.text, cited)
            if gaps:
                yield refuse(gaps[0])
                return
        timings["total_s"] = time.perf_counter() - t0
        yield Answer(question=question, answer=checked.text, abstained=False, citations=checked.citations,
                     sources=hits, timings=timings, model=self.model_info, query=query,
                     evidence={**evidence, "attached": checked.attached, "repaired": checked.repaired,
                               "dropped_sentences": dropped, "extractive": float(extractive)}, draft=raw)

    def ask(self, question: str, **kw) -> Answer:
        """The whole answer at once."""
        answer = None
        for item in self.stream(question, **kw):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def summarize(self, topic: str, **kw):
        """A cited summary across every relevant paper: rag.summarize.Summarizer over this pipeline's parts."""
        if getattr(self, "_summarizer", None) is None:
            from rag.summarize import Summarizer

            self._summarizer = Summarizer.from_pipeline(self)
        return self._summarizer.summarize(topic, **kw)
