"""What a question's answer turns out to be, as plain data: the Answer made of the checked sentences, or the
refusal with its reason; and the small facts about a draft they are made from."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from rag.answer.policy import is_cannot_answer
from rag.answer.verify import Verifier
from rag.text import CANNOT_ANSWER, names_in
from rag.types import AbstainReason, Answer, Citation, Hit, Paper


@dataclass
class Retrieved:
    """One question after retrieval: what every later step reads."""
    question: str
    query: str                              # the standalone retrieval query
    vector: list[float]                     # its embedding, made once
    hits: list[Hit]
    evidence: dict[str, float]
    where: dict | None = None
    about: Paper | None = None              # the earlier paper a follow-up refers to
    parts: list[str] = field(default_factory=list)   # the asks to answer (rag.answer.parts)
    notes: list[str] = field(default_factory=list)   # why the other asks are not answered
    t0: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


@dataclass
class Refusal:
    reason: AbstainReason
    text: str = CANNOT_ANSWER
    missing: list[str] = field(default_factory=list)


def names_a_paper(verifier: Verifier, context: list[Hit]) -> bool:
    """Some shown sentence names a cited paper: its title, or a name from its abstract ("MERU", "SIE")."""
    text = verifier.text
    for n in {m for s in verifier.shown for m in s.markers}:
        paper = context[n - 1].paper
        if paper.title.lower() in text.lower() or names_in(text) & names_in(f"{paper.title} {paper.abstract}"):
            return True
    return False

def title_citation(paper: Paper, n: int) -> Citation:
    return Citation(marker=n, paper_id=paper.paper_id, title=paper.title, supported=True, quote=paper.title,
                    score=1.0, responsive=True)


def why_nothing(draft: str, verifier: Verifier) -> AbstainReason:
    if is_cannot_answer(draft):
        return AbstainReason.MODEL
    whys = {why for _, why in verifier.rejected}
    if whys & {"does not answer the question", "answers no part of the question", "restates the question"}:
        return AbstainReason.NOT_RESPONSIVE
    return AbstainReason.UNSUPPORTED if "no cited paper backs it" in whys else AbstainReason.NO_CONTENT


def refusal_answer(r: Retrieved, refusal: Refusal, model_info: dict, related: int, draft: str = "",
                   rejected: list | None = None) -> Answer:
    """The refusal, with its reason, the terms no paper mentions and the closest papers."""
    finish(r)
    return Answer(question=r.question, answer=refusal.text, abstained=True, citations=[], sources=r.hits,
                  timings=r.timings, model=model_info, query=r.query,
                  related=r.hits[:related], evidence=r.evidence, draft=draft,
                  abstain_reason=refusal.reason, missing_terms=refusal.missing, rejected=rejected or [])

def checked_answer(r: Retrieved, verifier: Verifier, context: list[Hit], draft: str, notes: list[str],
                   model_info: dict) -> Answer:
    """The answer: the sentences shown, in order, then the notes on what the papers do not answer."""
    finish(r)
    text = " ".join([verifier.text] + [n + "." for n in notes])
    evidence = {**r.evidence, "context_papers": float(len(context)), "rejected": float(len(verifier.rejected)),
                "unanswered_parts": float(len(notes))}
    return Answer(question=r.question, answer=text, abstained=False, citations=verifier.citation_list(),
                  sources=r.hits, timings=r.timings, model=model_info, query=r.query, evidence=evidence,
                  draft=draft, rejected=verifier.rejections())

def finish(r: Retrieved) -> None:
    r.timings["total_s"] = time.perf_counter() - r.t0
    r.timings.setdefault("first_token_s", r.timings["total_s"])
    r.timings.setdefault("first_sentence_s", r.timings["total_s"])
