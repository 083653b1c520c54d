"""Hybrid retrieval: BM25 (bm25s) and dense (Chroma) chunk rankings, fused by llama-index, grouped per paper."""
from __future__ import annotations

import threading
from typing import Protocol, Sequence

from rag.bm25_index import BM25Index
from rag.embed import Embedder
from rag.errors import InputError, StoreError
from rag.live_index import IndexFolder
from rag.settings import DEFAULTS
from rag.store import ChromaStore, paper_from_metadata
from rag.types import Hit, Paper

STALE_MARGIN = 5         # extra papers read, in case some of the top ones were deleted since BM25 was built
FUSION_MODES = ("reciprocal_rerank", "relative_score", "dist_based_score")


class Retriever(Protocol):
    def retrieve(self, query: str, top_k: int = 5, *, where: dict | None = None) -> list[Hit]: ...


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
    """BM25 + dense over chunks, fused, then one Hit per paper with its best passages.

    Nothing but the BM25 index is held: passages and papers are read from the store for each question's
    candidates, so the start does not grow with the collection. With an `index` folder the saved BM25 index
    is used (built and saved if there is none), and before each question `sync` picks up an ingest that ran
    meanwhile; without one, BM25 is built in memory from the store.
    """

    def __init__(self, store: ChromaStore, embedder: Embedder, *, fusion: str = DEFAULTS.fusion,
                 passages_per_paper: int = DEFAULTS.passages_per_paper, candidates: int = DEFAULTS.candidates,
                 index: IndexFolder | None = None, say=None):
        if fusion not in FUSION_MODES:
            raise InputError(f"RAG_FUSION must be one of {', '.join(FUSION_MODES)}, not {fusion!r}")
        self.store, self.embedder, self.fusion = store, embedder, fusion
        self.passages_per_paper, self.candidates = passages_per_paper, candidates
        self.index, self._say = index, say
        self._lock = threading.Lock()
        self.refresh()

    def refresh(self) -> None:
        """Open the BM25 index: the saved one (see IndexFolder.open), or one built in memory from the store."""
        if self.index is None:
            self.bm25 = BM25Index.build(self.store.iter_chunks())
        else:
            self._seen = self.index.signature()
            self.bm25 = self.index.open(self.store, say=self._say)

    def sync(self) -> None:
        """If an ingest changed the store since the last question, take a fresh view of it, and the new BM25
        index once that ingest has put it in place. Costs a file read and a stat when nothing changed."""
        if self.index is None:
            return
        with self._lock:
            seen = self.index.signature()
            if seen == self._seen:
                return
            if seen[0] != self._seen[0]:
                try:
                    self.store = self.store.reopen()
                except StoreError:
                    return              # mid-swap (a --reset): keep this view and look again next question
            if seen[1] != self._seen[1]:
                index = self.index.load()
                if index is not None and index.meta.get("collection_id") == self.store.collection_id:
                    self.bm25 = index
            self._seen = seen

    def facets(self) -> dict[str, list]:
        """The years (newest first) and categories (most papers first) of the stored papers, for filter menus."""
        return self.bm25.facets()

    @property
    def n_papers(self) -> int:
        return self.bm25.n_papers

    def paper(self, paper_id: str) -> Paper:
        return self.store.papers([paper_id])[paper_id]

    def has_paper(self, paper_id: str) -> bool:
        return bool(self.store.papers([paper_id]))

    def rankings(self, query: str, *, where: dict | None = None,
                 vector: Sequence[float] | None = None) -> tuple[list, list]:
        """The dense and BM25 chunk rankings: lists of (chunk_id, score), best first."""
        vector = vector if vector is not None else self.embedder.embed([query])[0]
        dense = self.store.query(vector, self.candidates, where=where)
        sparse = self.bm25.search(query, self.candidates, where=where)
        return dense, sparse

    def retrieve(self, query: str, top_k: int = 5, *, where: dict | None = None,
                 rankings: Sequence[str] = ("dense", "bm25"), vector: Sequence[float] | None = None) -> list[Hit]:
        """The top_k papers for the query, best first, each with its best passages and raw scores."""
        self.sync()
        dense, sparse = self.rankings(query, where=where, vector=vector)
        chosen = [r for name, r in (("dense", dense), ("bm25", sparse)) if name in rankings]
        # the chunk id stands in for the text: llama-index's fusion tells nodes apart by their text's hash
        fused = _fuse([[(cid, cid, s) for cid, s in r] for r in chosen], self.fusion) if len(chosen) > 1 \
            else dict(chosen[0])
        order = sorted(fused.items(), key=lambda kv: -kv[1])
        return self._hits(order, dict(dense), dict(sparse), top_k)

    def _hits(self, order: list[tuple[str, float]], dense: dict, sparse: dict, top_k: int) -> list[Hit]:
        """Group fused chunks by paper; read the passages and papers wanted from the store in one call."""
        papers: dict[str, list[str]] = {}
        for cid, _ in order:
            papers.setdefault(paper_of(cid), []).append(cid)
        wanted = list(papers)[:top_k + STALE_MARGIN]    # a stale BM25 row may name a chunk that is gone
        ids = [c for pid in wanted for c in papers[pid][:self.passages_per_paper]]
        ids += [first_chunk(papers[pid][0]) for pid in wanted]
        found = self.store.chunks(ids)
        score_of = dict(order)
        hits = []
        for pid in wanted:
            cids = papers[pid]
            head = found.get(first_chunk(cids[0]))
            passages = [found[c][0] for c in cids[:self.passages_per_paper] if c in found]
            if head is None or not passages:
                continue
            hits.append(Hit(paper=paper_from_metadata(head[1]), passages=passages, score=score_of[cids[0]],
                            dense=max((dense.get(c, 0.0) for c in cids), default=0.0),
                            bm25=max((sparse.get(c, 0.0) for c in cids), default=0.0)))
        return hits[:top_k]


def paper_of(chunk_id: str) -> str:
    """'<paper_id>:<hash>:<i>' -> paper_id (paper ids never hold a colon: see corpus.make_paper_id)."""
    return chunk_id.rsplit(":", 2)[0]


def first_chunk(chunk_id: str) -> str:
    """The id of chunk 0 of the same paper version: it carries the whole abstract."""
    return chunk_id.rsplit(":", 1)[0] + ":0"


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
