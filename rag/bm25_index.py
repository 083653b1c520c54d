"""The BM25 index of a collection's chunks (bm25s), built once per ingest and loaded memory-mapped at start.

bm25s stores the index as a sparse matrix of precomputed scores; `save` writes it as .npy files and
`load(mmap=True)` maps them, so opening an index costs about the same at 2,000 or 2,000,000 chunks. Beside
the matrix: corpus.jsonl (row -> chunk id, read through bm25s's memory-mapped JsonlCorpus), filters.npy
(row -> index into filter_keys, for year/category masks), and meta.json (papers, facets, what it was built from).
"""
from __future__ import annotations

import json
import math
import threading
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from rag.filters import matches
from rag.types import Paper

PAGE = 5000             # chunks tokenized at a time while building: memory holds token ids, not texts
MASKS_KEPT = 32         # filters whose row masks are cached


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


class BM25Index:
    """bm25s over title + passage of every chunk, English stop words and stemming; rows map to chunk ids."""

    def __init__(self, bm25, chunk_ids: Sequence, filter_rows, meta: dict):
        self._bm25, self._ids, self._filter_rows, self.meta = bm25, chunk_ids, filter_rows, meta
        self.size = int(meta["chunks"])
        self._keys = [tuple(k) for k in meta["filter_keys"]]
        self._stem = _stemmer()
        self._masks: dict[str, object] = {}
        self._lock = threading.Lock()       # bm25s and the stemmer are not documented as thread-safe
        self._df = None

    # -- building and persisting ------------------------------------------------------------------------
    @classmethod
    def build(cls, rows: Iterable[tuple[str, str, dict]], **meta) -> "BM25Index":
        """Index (chunk_id, passage, metadata) rows as Chroma returns them; `meta` is kept with the index."""
        import bm25s
        import numpy as np

        tokenizer = bm25s.tokenization.Tokenizer(stemmer=_stemmer(), stopwords="en")
        ids, tokens, page, key_of = [], [], [], {}
        filter_rows, years, cats, papers = [], set(), Counter(), 0

        def flush():
            tokens.extend(tokenizer.tokenize(page, return_as="ids", show_progress=False))
            page.clear()

        for chunk_id, text, m in rows:
            ids.append(chunk_id)
            page.append(f"{m['title']}. {text}")
            key = (m.get("year") or 0, m.get("categories", ""))
            filter_rows.append(key_of.setdefault(key, len(key_of)))
            if m.get("chunk", 0) == 0:                  # one row per paper for the counts
                papers += 1
                years.add(key[0])
                cats.update(key[1].split())
            if len(page) >= PAGE:
                flush()
        if page:
            flush()
        bm25 = bm25s.BM25()
        if ids:
            bm25.index(bm25s.tokenization.Tokenized(ids=tokens, vocab=tokenizer.get_vocab_dict()),
                       show_progress=False)
        facets = {"years": sorted((y for y in years if y), reverse=True),
                  "categories": sorted(cats, key=lambda c: (-cats[c], c))}
        meta = {**meta, "chunks": len(ids), "papers": papers, "facets": facets, "filter_keys": list(key_of)}
        return cls(bm25 if ids else None, ids, np.asarray(filter_rows, dtype=np.int32), meta)

    def save(self, folder: Path) -> None:
        """Write the index into `folder` (which must not exist yet)."""
        import numpy as np

        folder.mkdir(parents=True)
        if self._bm25 is not None:
            self._bm25.save(folder, corpus=({"id": cid} for cid in self._ids), show_progress=False)
        np.save(folder / "filters.npy", np.asarray(self._filter_rows, dtype=np.int32))
        (folder / "meta.json").write_text(json.dumps(self.meta), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "BM25Index":
        """Open a saved index with its arrays memory-mapped (nothing is read in full but the vocabulary)."""
        import bm25s
        import numpy as np
        from bm25s.utils.corpus import JsonlCorpus

        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        bm25 = ids = None
        if meta["chunks"]:
            bm25 = bm25s.BM25.load(folder, mmap=True, show_progress=False)
            ids = _Ids(JsonlCorpus(folder / "corpus.jsonl", show_progress=False, verbosity=0))
        return cls(bm25, ids or [], np.load(folder / "filters.npy", mmap_mode="r"), meta)

    # -- questions ---------------------------------------------------------------------------------------
    @property
    def n_papers(self) -> int:
        return int(self.meta["papers"])

    def facets(self) -> dict[str, list]:
        return self.meta["facets"]

    def _tokens(self, text: str) -> list[str]:
        import bm25s

        with self._lock:
            return bm25s.tokenize([text], stopwords="en", stemmer=self._stem, return_ids=False,
                                  show_progress=False)[0]

    def terms(self, text: str) -> list[str]:
        """Stemmed content words that occur in the collection, as BM25 sees them."""
        vocab = self._bm25.vocab_dict if self._bm25 is not None else {}
        return [t for t in self._tokens(text) if t in vocab]

    def idf(self, term: str) -> float:
        if not self.size:
            return 0.0
        if self._df is None:        # documents per term: the non-zeros of each column of the score matrix
            import numpy as np

            self._df = np.diff(np.asarray(self._bm25.scores["indptr"]))
        col = self._bm25.vocab_dict.get(term)
        n = self._df[col] if col is not None else 0
        return math.log((self.size + 1) / (n + 0.5)) if n else math.log(self.size + 1)

    def search(self, query: str, k: int, where: dict | None = None) -> list[tuple[str, float]]:
        """(chunk_id, score) of the k best chunks with a positive score, among those matching `where`."""
        mask = self.mask(where) if where else None
        if not self.size or (mask is not None and not mask.any()):
            return []
        tokens = self.terms(query)
        if not tokens:
            return []
        with self._lock:        # the corpus file is read through one shared mmap: one reader at a time
            docs, scores = self._bm25.retrieve([tokens], k=min(k, self.size), show_progress=False, n_threads=1,
                                               weight_mask=None if mask is None else mask.astype("float32"))
            return [(self._ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]

    def mask(self, where: dict):
        """Which rows match the filter. The filter is evaluated once per distinct (year, categories)."""
        import numpy as np

        key = json.dumps(where, sort_keys=True)
        if key not in self._masks:
            table = np.fromiter((matches(Paper("", "", "", year=y or None, categories=c), where)
                                 for y, c in self._keys), dtype=bool, count=len(self._keys))
            if len(self._masks) >= MASKS_KEPT:
                self._masks.pop(next(iter(self._masks)))
            self._masks[key] = table[np.asarray(self._filter_rows)] if len(table) else np.zeros(0, bool)
        return self._masks[key]


class _Ids:
    """Row -> chunk id over bm25s's memory-mapped corpus file."""

    def __init__(self, corpus):
        self._corpus = corpus

    def __getitem__(self, row: int) -> str:
        return self._corpus[row]["id"]

    def __len__(self) -> int:
        return len(self._corpus)
