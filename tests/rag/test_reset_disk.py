"""`rag ingest --reset` gives the old collection's disk space back: repeated resets do not grow the data folder."""
from __future__ import annotations

import os
from pathlib import Path

from eval.bench import synthetic as bench
from rag.build import open_store, reset_store
from rag.embed import HashEmbedder
from rag.ingest import ingest
from rag.settings import Settings
from rag.store_files import SEGMENT_DIR, orphan_segments


def _size(folder: Path) -> int:
    return sum(os.path.getsize(Path(d) / f) for d, _, files in os.walk(folder) for f in files)


def test_five_resets_take_no_more_disk_than_one(tmp_path):
    settings = Settings(home=tmp_path, embedder="hash")
    papers, embedder = bench.synthetic_papers(400), HashEmbedder()
    _, store = open_store(settings, embedder)
    ingest(papers, store, embedder, progress=False)
    first = _size(tmp_path)
    reset_store(settings, papers, embedder, progress=False)
    after_one = _size(tmp_path)
    for _ in range(4):
        reset_store(settings, papers, embedder, progress=False)
    after_five = _size(tmp_path)
    segments = [p for p in settings.store_dir.iterdir() if SEGMENT_DIR.fullmatch(p.name)]
    assert len(segments) == 1 and orphan_segments(settings.store_dir) == []     # the live collection's only
    assert after_five <= 1.10 * after_one, (first, after_one, after_five)
    _, store = open_store(settings, embedder)
    assert len(store.paper_hashes()) == len(papers)
