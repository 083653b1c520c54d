"""Plain data passed between the steps (README "How it works"); the JSON answer object of docs/contract.md."""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Literal, NotRequired, TypedDict

from rag.text import states_contribution, trim_words


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str
    papers: NotRequired[list[str]]     # an earlier answer's cited paper ids, when the caller kept them


@dataclass(frozen=True, slots=True)
class Paper:
    paper_id: str
    title: str
    abstract: str
    authors: str = ""
    year: int | None = None
    url: str = ""
    categories: str = ""        # space-separated, e.g. "cs.LG stat.ML"
    date: str = ""              # ISO date (first version / publication) when the source has one


@dataclass(frozen=True, slots=True)
class Chunk:
    chunk_id: str       # "<paper_id>:<content hash>:<index>"
    paper: Paper
    text: str           # the passage (abstract slice, no title)
    embed_text: str     # what gets embedded: title + passage


@dataclass(slots=True)
class Hit:
    """One retrieved paper with its best passages."""
    paper: Paper
    passages: list[str]
    score: float                # fused retrieval score, higher is better
    dense: float = 0.0          # best cosine similarity of its passages to the query
    bm25: float = 0.0           # best BM25 score of its passages


@dataclass(slots=True)
class Citation:
    marker: int
    paper_id: str
    title: str
    supported: bool
    quote: str
    score: float = 0.0          # support score of the best-matching sentence
    responsive: bool = True     # every sentence citing it answers the question (not only restates it)


@dataclass(slots=True)
class CheckedSentence:
    """One sentence of a draft after the citation check."""
    text: str                   # with its (possibly attached or repaired) markers
    markers: list[int]
    supported: bool | None      # None: the sentence says nothing checkable (no content words, a list of titles)
    best_source: int = 0        # the source that backs it best (1-based; 0 when not scored)
    best_score: float = 0.0
    fix: str = ""               # "attached" (a marker added) or "repaired" (moved to the source that backs it)
    responsive: bool | None = None   # it answers the question: says more than the question, from the cited paper


class AbstainReason(str, Enum):
    """Why an answer is the cannot-answer phrase."""
    FILTER_MATCHES_NOTHING = "filter_matches_nothing"   # no paper passes --year / --category
    WEAK_EVIDENCE = "weak_evidence"                     # retrieval found nothing on topic
    UNGROUNDED = "ungrounded"                           # a name the question asks about that no paper mentions
    NO_RELEVANT_PAPER = "no_relevant_paper"             # (summaries) no paper passes the relevance cut-off
    MODEL = "model"                                     # the model said the papers do not answer
    NO_CONTENT = "no_content"                           # the draft said nothing checkable, nothing close to extract
    UNSUPPORTED = "unsupported"                         # no sentence of the draft is backed by a cited paper
    NOT_RESPONSIVE = "not_responsive"                   # backed sentences, but none answers what was asked
    NO_NUMBER = "no_number"                             # a "how many" question got no backed number
    METRIC_NOT_REPORTED = "metric_not_reported"         # the metric asked for is not in the cited papers
    QUESTION_NUMBER_MISSING = "question_number_missing"  # a number the question names is not in the papers


@dataclass(slots=True)
class Answer:
    question: str
    answer: str
    abstained: bool
    citations: list[Citation]
    sources: list[Hit]
    timings: dict[str, float] = field(default_factory=dict)
    model: dict[str, str] = field(default_factory=dict)
    query: str = ""             # the standalone query used for retrieval
    related: list[Hit] = field(default_factory=list)  # closest papers when abstaining
    evidence: dict[str, float] = field(default_factory=dict)  # retrieval signals and check counts
    draft: str = ""             # the model's own text, before checking (shown for transparency and eval)
    abstain_reason: AbstainReason | None = None
    missing_terms: list[str] = field(default_factory=list)    # terms of the question no paper mentions
    route: str = "single"       # single, multi or summary (rag.answer.route)
    rejected: list[dict] = field(default_factory=list)       # draft sentences not shown: {"sentence", "why"}

    def to_json(self) -> dict:
        """The contract's answer object (docs/contract.md), plus extra fields."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {"marker": c.marker, "paper_id": c.paper_id, "title": c.title,
                 "supported": c.supported, "responsive": c.responsive, "quote": c.quote,
                 "support_score": round(c.score, 3)}
                for c in self.citations
            ],
            "sources": [
                {"rank": i + 1, "paper_id": h.paper.paper_id, "title": h.paper.title,
                 "score": round(h.score, 4), "passage": h.passages[0] if h.passages else ""}
                for i, h in enumerate(self.sources)
            ],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "model": dict(self.model),
            "abstain_reason": self.abstain_reason.value if self.abstain_reason else None,
            "missing_terms": list(self.missing_terms),
            "route": self.route,
            "query": self.query,
            "related": [{"paper_id": h.paper.paper_id, "title": h.paper.title} for h in self.related],
            "evidence": {k: round(v, 4) for k, v in self.evidence.items()},
            "draft": self.draft,
            "rejected": list(self.rejected),
        }


@dataclass
class PaperEvidence:
    """One paper kept for a summary: its marker, the hit, and the sentences of its abstract on the topic."""
    marker: int
    hit: Hit
    quotes: list[str]              # exact abstract sentences, original order
    best: str                      # the single sentence closest to the topic (one of quotes)

    @property
    def contribution(self) -> str:
        """The quote that states what the paper does ("We propose ..."), else the one closest to the topic."""
        return next((q for q in self.quotes if states_contribution(q)), self.best)

    def to_json(self, contribution_words: int = 30) -> dict:
        return {"marker": self.marker, "paper_id": self.hit.paper.paper_id, "title": self.hit.paper.title,
                "contribution": trim_words(self.contribution, contribution_words),
                "quote": " ".join(self.quotes), "quotes": list(self.quotes), "score": round(self.hit.score, 4),
                "dense": round(self.hit.dense, 4)}


@dataclass
class Summary(Answer):
    """An Answer (the contract's fields) plus the per-paper table, the near misses and flagged sentences."""
    papers: list[PaperEvidence] = field(default_factory=list)
    left_out: list[Hit] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)     # {"sentence", "reason", "markers"}
    contribution_words: int = 30

    def to_json(self) -> dict:
        out = Answer.to_json(self)
        out["papers"] = [p.to_json(self.contribution_words) for p in self.papers]
        out["left_out"] = [{"paper_id": h.paper.paper_id, "title": h.paper.title, "score": round(h.score, 4),
                            "dense": round(h.dense, 4)} for h in self.left_out]
        out["flagged"] = list(self.flagged)
        return out
