"""Hybrid retrieval: BM25 (bm25s) and dense (Chroma) chunk rankings, fused by llama-index, grouped per paper."""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Protocol, Sequence

from rag.embed import Embedder
from rag.errors import InputError
from rag.filters import matches
from rag.settings import DEFAULTS
from rag.store import ChromaStore, paper_from_metadata
from rag.types import Hit, Paper

FUSION_MODES = ("reciprocal_rerank", "relative_score", "dist_based_score")


class Retriever(Protocol):
    def retrieve(self, query: str, top_k: int = 5, *, where: dict | None = None) -> list[Hit]: ...


@dataclass(frozen=True, slots=True)
class _ChunkRow:
    chunk_id: str
    paper: Paper          # abstract filled only for chunk 0; full papers come from the store on demand
    text: str


class BM25Index:
    """bm25s over title + passage of every chunk, with English stop words and stemming."""

    def __init__(self, texts: Sequence[str]):
        import bm25s
        import Stemmer

        self._tokenizer = bm25s.tokenization.Tokenizer(stemmer=Stemmer.Stemmer("english"), stopwords="en")
        self._bm25 = bm25s.BM25()
        self.size = len(texts)
        if texts:
            tokens = self._tokenizer.tokenize(list(texts), return_as="ids", show_progress=False)
            self._bm25.index(tokens, show_progress=False)
            self._idf = self._doc_freqs(tokens)
        self._lock = threading.Lock()

    def _doc_freqs(self, tokens) -> dict[str, float]:
        df: dict[int, int] = {}
        for doc in tokens:
            for t in set(doc):
                df[t] = df.get(t, 0) + 1
        inv = {i: w for w, i in self._tokenizer.get_vocab_dict().items()}
        n = len(tokens)
        return {inv[t]: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}

    def terms(self, text: str) -> list[str]:
        """Stemmed content words, as BM25 sees them."""
        return self._tokenizer.tokenize([text], return_as="string", update_vocab=False, show_progress=False)[0]

    def idf(self, term: str) -> float:
        return self._idf.get(term, math.log(self.size + 1)) if self.size else 0.0

    def search(self, query: str, k: int, mask=None) -> list[tuple[int, float]]:
        """(row, score) of the k best chunks with a positive score; `mask` (bools, one per chunk) limits them."""
        if not self.size or (mask is not None and not mask.any()):
            return []
        with self._lock:
            ids = self._tokenizer.tokenize([query], return_as="ids", update_vocab=False, show_progress=False)
            if not ids or not ids[0]:
                return []
            docs, scores = self._bm25.retrieve(ids, k=min(k, self.size), show_progress=False, n_threads=1,
                                               weight_mask=None if mask is None else mask.astype("float32"))
        return [(int(d), float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]


def _fuse(rankings: list[list[tuple[str, str, float]]], mode: str) -> dict[str, float]:
    """Fuse ranked (chunk_id, text, score) lists with llama-index's QueryFusionRetriever."""
    from llama_index.core.llms import MockLLM
    from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
    from llama_index.core.schema import NodeWithScore, TextNode

    class _Fixed(BaseRetriever):
        def __init__(self, rows):
            super().__init__()
            self._rows = rows

        def _retrieve(self, query_bundle):
            return [NodeWithScore(node=TextNode(id_=cid, text=text), score=score) for cid, text, score in self._rows]

    fusion = QueryFusionRetriever([_Fixed(r) for r in rankings], llm=MockLLM(), mode=mode, num_queries=1,
                                  use_async=False, similarity_top_k=sum(len(r) for r in rankings))
    return {n.node.node_id: float(n.score or 0.0) for n in fusion.retrieve("fuse")}


class HybridRetriever:
    """BM25 + dense over chunks, fused, then one Hit per paper with its best passages."""

    def __init__(self, store: ChromaStore, embedder: Embedder, *, fusion: str = DEFAULTS.fusion,
                 passages_per_paper: int = DEFAULTS.passages_per_paper, candidates: int = DEFAULTS.candidates):
        if fusion not in FUSION_MODES:
            raise InputError(f"RAG_FUSION must be one of {', '.join(FUSION_MODES)}, not {fusion!r}")
        self.store, self.embedder, self.fusion = store, embedder, fusion
        self.passages_per_paper, self.candidates = passages_per_paper, candidates
        self.refresh()

    def refresh(self) -> None:
        """(Re)build the in-memory BM25 index from the store, after an ingest."""
        rows = []
        for cid, text, meta in self.store.iter_chunks():
            rows.append(_ChunkRow(cid, paper_from_metadata(meta), text))
        self._rows = rows
        self._row_of = {r.chunk_id: i for i, r in enumerate(rows)}
        self.bm25 = BM25Index([f"{r.paper.title}. {r.text}" for r in rows])
        self._papers = {r.paper.paper_id: r.paper for r in rows if r.paper.abstract}
        self._masks: dict[str, object] = {}      # filter (as JSON) -> chunk mask

    def _mask(self, where: dict):
        """Which chunks match the filter (BM25 then ranks only those, so a narrow filter still gets its best)."""
        import json

        import numpy as np

        key = json.dumps(where, sort_keys=True)
        if key not in self._masks:
            self._masks[key] = np.fromiter((matches(r.paper, where) for r in self._rows), dtype=bool,
                                           count=len(self._rows))
        return self._masks[key]

    def facets(self) -> dict[str, list]:
        """The years (newest first) and categories (most papers first) of the stored papers, for filter menus."""
        years = sorted({p.year for p in self._papers.values() if p.year}, reverse=True)
        counts: dict[str, int] = {}
        for p in self._papers.values():
            for c in p.categories.split():
                counts[c] = counts.get(c, 0) + 1
        return {"years": years, "categories": sorted(counts, key=lambda c: (-counts[c], c))}

    @property
    def n_papers(self) -> int:
        return len(self._papers)

    def paper(self, paper_id: str) -> Paper:
        return self._papers[paper_id]

    def has_paper(self, paper_id: str) -> bool:
        return paper_id in self._papers

    def rankings(self, query: str, *, where: dict | None = None,
                 vector: Sequence[float] | None = None) -> tuple[list, list]:
        """The dense and BM25 chunk rankings: lists of (row, score), best first."""
        vector = vector if vector is not None else self.embedder.embed([query])[0]
        dense = [(self._row_of[cid], s) for cid, s in self.store.query(vector, self.candidates, where=where)
                 if cid in self._row_of]
        sparse = self.bm25.search(query, self.candidates, mask=self._mask(where) if where else None)
        return dense, sparse

    def retrieve(self, query: str, top_k: int = 5, *, where: dict | None = None,
                 rankings: Sequence[str] = ("dense", "bm25"), vector: Sequence[float] | None = None) -> list[Hit]:
        """The top_k papers for the query, best first, each with its best passages and raw scores."""
        dense, sparse = self.rankings(query, where=where, vector=vector)
        chosen = [r for name, r in (("dense", dense), ("bm25", sparse)) if name in rankings]
        as_rows = [[(self._rows[i].chunk_id, self._rows[i].text, s) for i, s in r] for r in chosen]
        fused = _fuse(as_rows, self.fusion) if len(as_rows) > 1 else {cid: s for cid, _, s in as_rows[0]}
        dense_of = {self._rows[i].chunk_id: s for i, s in dense}
        bm25_of = {self._rows[i].chunk_id: s for i, s in sparse}
        hits: dict[str, Hit] = {}
        for cid, score in sorted(fused.items(), key=lambda kv: -kv[1]):
            row = self._rows[self._row_of[cid]]
            pid = row.paper.paper_id
            hit = hits.get(pid)
            if hit is None:
                hit = hits[pid] = Hit(paper=self._papers.get(pid, row.paper), passages=[], score=score)
            if len(hit.passages) < self.passages_per_paper:
                hit.passages.append(row.text)
            hit.dense = max(hit.dense, dense_of.get(cid, 0.0))
            hit.bm25 = max(hit.bm25, bm25_of.get(cid, 0.0))
        return list(hits.values())[:top_k]


def coverage(query: str, hits: Sequence[Hit], bm25: BM25Index, top: int = 3) -> float:
    """IDF-weighted share of the query's content words found in the top papers' title and abstract."""
    terms = set(bm25.terms(query))
    if not terms:
        return 0.0
    text_terms: set[str] = set()
    for h in hits[:top]:
        text_terms |= set(bm25.terms(f"{h.paper.title}. {h.paper.abstract or ' '.join(h.passages)}"))
    total = sum(bm25.idf(t) for t in terms)
    found = sum(bm25.idf(t) for t in terms if t in text_terms)
    return found / total if total else 0.0
