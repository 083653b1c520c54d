"""Plain data passed between the pipeline's steps (see the flow in README)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypedDict


class Message(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


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
    evidence: dict[str, float] = field(default_factory=dict)  # abstention signals
    draft: str = ""             # the model's own text, before checking (shown for transparency and eval)

    def to_json(self) -> dict:
        """The contract's answer object (../shared/CONTRACT.md), plus extra fields."""
        return {
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "citations": [
                {"marker": c.marker, "paper_id": c.paper_id, "title": c.title,
                 "supported": c.supported, "quote": c.quote, "support_score": round(c.score, 3)}
                for c in self.citations
            ],
            "sources": [
                {"rank": i + 1, "paper_id": h.paper.paper_id, "title": h.paper.title,
                 "score": round(h.score, 4), "passage": h.passages[0] if h.passages else ""}
                for i, h in enumerate(self.sources)
            ],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
            "model": dict(self.model),
            "query": self.query,
            "related": [{"paper_id": h.paper.paper_id, "title": h.paper.title} for h in self.related],
            "evidence": {k: round(v, 4) for k, v in self.evidence.items()},
            "draft": self.draft,
        }
