"""When to refuse before generating: the question itself and the retrieval evidence. (What an answer must
contain is checked sentence by sentence in rag.answer.verify; names no paper mentions in rag.answer.grounding.)

Every threshold is in rag.settings.AbstainPolicy; this module holds the rules that use them.
"""
from __future__ import annotations

from typing import Sequence

from rag.errors import InputError
from rag.retrieve import BM25Index, coverage
from rag.settings import AbstainPolicy
from rag.text import CANNOT_ANSWER
from rag.types import Hit


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
