"""When to refuse: the question itself, the retrieval evidence, and what a checked answer must contain.

Every threshold is in rag.settings.AbstainPolicy; this module holds the rules that use them.
"""
from __future__ import annotations

import re
from typing import Sequence

from rag.errors import InputError
from rag.retrieve import BM25Index, coverage
from rag.settings import AbstainPolicy
from rag.text import CANNOT_ANSWER, numbers_in, strip_markers
from rag.types import AbstainReason, Hit

QUANTITY_QUESTION = re.compile(r"\b(how (?:many|much|large|long|fast|big)|by how)\b", re.I)
# "What <metric> does X reach": the metric must be one the cited paper reports.
METRIC_QUESTION = re.compile(
    r"\bwhat\b[^?]{0,40}?\b(mean average precision|accuracy|top-[15](?: accuracy)?|auc|map|f1|bleu|rouge|"
    r"recall(?:@\d+)?|precision|error|score|perplexity|speed-?up|improvement|percentage|fraction|rate)\b", re.I)
# Metrics a paper names when it reports them; "accuracy" or "error" is often only implied by a "%".
NAMED_METRICS = {"mean average precision", "auc", "map", "f1", "bleu", "rouge", "perplexity", "top 1", "top 5",
                 "top 1 accuracy", "top 5 accuracy"} | {f"recall@{k}" for k in (1, 5, 10, 20, 50, 100)}


def check_question(question: str, max_chars: int) -> str:
    """The question with whitespace normalised, or an InputError saying what is wrong with it."""
    question = " ".join(str(question or "").split())
    if not question:
        raise InputError("the question is empty; type a question about the papers")
    if len(question) > max_chars:
        raise InputError(f"the question is {len(question)} characters long; the limit is {max_chars}, "
                         "so shorten it")
    return question


def is_cannot_answer(text: str) -> bool:
    """The model gave the cannot-answer phrase (or its opening words) instead of an answer."""
    t = " ".join(text.lower().split())
    return CANNOT_ANSWER.lower()[:40] in t or t.startswith("the papers in this collection do not")


def retrieval_evidence(query: str, hits: Sequence[Hit], bm25: BM25Index, policy: AbstainPolicy) -> dict[str, float]:
    """The signals the evidence gate reads: query-word coverage and best cosine / BM25 of the top papers."""
    top = hits[:policy.evidence_papers]
    return {"coverage": coverage(query, hits, bm25, top=policy.evidence_papers) if hits else 0.0,
            "dense": max((h.dense for h in top), default=0.0),
            "bm25": max((h.bm25 for h in top), default=0.0)}


def weak_evidence(evidence: dict[str, float], policy: AbstainPolicy) -> bool:
    """Nothing retrieved is on topic: low cosine, or low cosine together with low word coverage."""
    if evidence["dense"] < policy.min_dense:
        return True
    return evidence["coverage"] < policy.min_coverage and evidence["dense"] < policy.min_dense_low_coverage


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[-_/]", " ", text.lower()).split())


def quantity_gaps(question: str, answer: str, cited_text: str) -> list[AbstainReason]:
    """Why an answer to a "how many / what accuracy" question is not one: no backed number, a metric
    the cited papers never mention, or a number the question names that the papers do not contain."""
    gaps = []
    metric = METRIC_QUESTION.search(question)
    if (QUANTITY_QUESTION.search(question) or metric) and not numbers_in(strip_markers(answer)):
        gaps.append(AbstainReason.NO_NUMBER)
    if metric and _norm(metric.group(1)) in NAMED_METRICS and _norm(metric.group(1)) not in _norm(cited_text):
        gaps.append(AbstainReason.METRIC_NOT_REPORTED)
    if numbers_in(question) - numbers_in(cited_text):
        gaps.append(AbstainReason.QUESTION_NUMBER_MISSING)
    return gaps
