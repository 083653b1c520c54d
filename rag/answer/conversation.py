"""Follow-ups: which paper an earlier answer cited, which of them the question refers back to, and the question
as the model should see it (with that paper's title, so "they" and "it" are never ambiguous)."""
from __future__ import annotations

import re
from typing import Callable, Sequence

from rag.condense import needs_history
from rag.text import content_words, split_sentences, strip_markers
from rag.types import Message, Paper

# "the first one", "the latter": a paper by its place in the last answer's list of citations.
_ORDINAL = re.compile(r"\b(first|second|third|fourth|fifth|former|latter|last)\b(?:\s+(?:one|paper|method|model|"
                      r"work|approach|study))?", re.I)
_PLACE = {"first": 0, "second": 1, "third": 2, "fourth": 3, "fifth": 4, "former": 0, "latter": -1, "last": -1}


def answers(history: Sequence[Message]) -> list[Message]:
    """The assistant turns, most recent first."""
    return [m for m in reversed(history) if m.get("role") == "assistant" and str(m.get("content", "")).strip()]


def earlier_papers(history: Sequence[Message], resolve: Callable[[Message], list[Paper]]) -> list[list[Paper]]:
    """For each earlier answer, most recent first: the papers it cited, in the order it cited them.
    `resolve` finds them (from the turn's "papers" ids when the UI kept them, else from its text)."""
    return [papers for papers in (resolve(m) for m in answers(history)) if papers]


def referent(question: str, cited: Sequence[Sequence[Paper]], relevance: Callable[[Paper], float]) -> Paper | None:
    """The earlier paper a follow-up is about: named by its place ("the first one") in the last answer's list,
    else the one of all earlier answers' papers the question fits best (the most recent on a tie)."""
    if not cited or not needs_history(question):
        return None
    m = _ORDINAL.search(question)
    if m and len(cited[0]) > 1:
        place = _PLACE[m.group(1).lower()]
        if -len(cited[0]) <= place < len(cited[0]):
            return cited[0][place]
    seen: dict[str, Paper] = {}
    for papers in cited:
        for p in papers:
            seen.setdefault(p.paper_id, p)
    order = list(seen.values())
    return max(order, key=lambda p: (round(relevance(p), 2), -order.index(p)))


def question_about(question: str, paper: Paper | None) -> str:
    """The follow-up as the model sees it: the paper it refers to is named."""
    if paper is None:
        return question
    return f'{question} (The question is about the paper "{paper.title}".)'


def cited_papers(turn: Message, retriever, checker) -> list[Paper]:
    """The papers an earlier answer cited: its "papers" ids when the caller kept them, else for each of its
    sentences the paper that backs it (found by retrieval, checked by support)."""
    ids = [i for i in turn.get("papers") or [] if retriever.has_paper(i)]
    if ids:
        return [retriever.paper(i) for i in ids]
    out: dict[str, Paper] = {}
    for sentence in split_sentences(str(turn.get("content", ""))):
        claim = strip_markers(sentence)
        if len(content_words(claim)) < 2:
            continue
        for hit in retriever.retrieve(claim, 1):
            if checker.support(claim, hit.paper).score >= checker.threshold:
                out.setdefault(hit.paper.paper_id, hit.paper)
    return list(out.values())
