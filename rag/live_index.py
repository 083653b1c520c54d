"""Where a collection's saved BM25 index lives, when it is stale, and the stamp that tells readers the store changed.

    <root>/<collection>/          the current index (rag.bm25_index), replaced whole by a rename
    <root>/<collection>.stamp     a new token after every ingest batch

`root` is <RAG_HOME>/bm25 beside the embedded store, or <RAG_HOME>/bm25-<host>-<port> for a Chroma server.
An index is fresh when it was built from the same collection (Chroma's id survives renames, not resets), from
the same number of chunks, and with no ingest batch written since (the stamp it recorded is still the stamp).
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import time
import uuid
from pathlib import Path

from rag.bm25_index import BM25Index


class IndexFolder:
    """One collection's BM25 index on disk and its generation stamp."""

    def __init__(self, root: Path, collection: str):
        self.root, self.collection = Path(root), collection
        self.path = self.root / collection
        self.stamp_path = self.root / f"{collection}.stamp"

    # -- the stamp -------------------------------------------------------------------------------------
    def stamp(self) -> str:
        try:
            return self.stamp_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return ""

    def bump(self) -> None:
        """Record that the store changed: readers reload their view of it before their next question."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.stamp_path.with_name(f".{self.stamp_path.name}.{os.getpid()}")
        tmp.write_text(uuid.uuid4().hex, encoding="utf-8")
        os.replace(tmp, self.stamp_path)      # atomic: a reader sees the old token or the new one

    def signature(self) -> tuple:
        """Changes whenever the stamp is bumped or a new index is put in place; cheap enough for every question."""
        try:
            st = (self.path / "meta.json").stat()
            index = (st.st_ino, st.st_mtime_ns)
        except FileNotFoundError:
            index = None
        return self.stamp(), index

    # -- the index -------------------------------------------------------------------------------------
    def meta(self) -> dict | None:
        try:
            return json.loads((self.path / "meta.json").read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def is_fresh(self, store) -> bool:
        meta = self.meta()
        return bool(meta) and meta.get("collection_id") == store.collection_id and \
            meta.get("stamp") == self.stamp() and meta.get("chunks") == store.count_chunks()

    def load(self) -> BM25Index | None:
        """The saved index, or None when there is none (or it cannot be read: it is rebuilt then)."""
        try:
            return BM25Index.load(self.path)
        except (OSError, ValueError, KeyError):
            return None

    def build(self, store, *, say=None) -> BM25Index:
        """Build the index from every chunk in the store and put it in place (replacing the old one whole)."""
        stamp, t0 = self.stamp(), time.perf_counter()    # read first: a batch written meanwhile makes it stale
        if say:
            say(f"building the BM25 index of {store.count_chunks()} passages")
        index = BM25Index.build(store.iter_chunks(), collection_id=store.collection_id, stamp=stamp,
                                built_at=time.strftime("%Y-%m-%dT%H:%M:%S"))
        index.meta["build_s"] = round(time.perf_counter() - t0, 2)
        self.put(index)
        return index

    def put(self, index: BM25Index) -> None:
        """Save beside the current index, then swap folders by renames, so a reader never sees half an index.
        A reader that has the old one open keeps reading it (its files stay until it lets go of them)."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        tag = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        new, old = self.root / f".{self.collection}.new-{tag}", self.root / f".{self.collection}.old-{tag}"
        index.save(new)
        with open(self.root / f".{self.collection}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)        # two ingests finishing together swap one after the other
            if self.path.exists():
                os.replace(self.path, old)
            os.replace(new, self.path)
        shutil.rmtree(old, ignore_errors=True)

    def open(self, store, *, say=None) -> BM25Index:
        """The index to answer from: the saved one if it belongs to this collection (a stale one too: the
        next ingest rebuilds it, and the dense search sees every paper meanwhile), else one built now."""
        index = self.load()
        if index is not None and index.meta.get("collection_id") == store.collection_id:
            if say and not self.is_fresh(store):
                say(f"the BM25 index ({index.size} passages) is older than the store ({store.count_chunks()}); "
                    "it is rebuilt at the end of the next `rag ingest`")
            return index
        return self.build(store, say=say)

    def refresh(self, store, *, say=None) -> BM25Index | None:
        """After an ingest: rebuild unless the saved index is already fresh."""
        return None if self.is_fresh(store) else self.build(store, say=say)

    def drop(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


def stderr_line(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
