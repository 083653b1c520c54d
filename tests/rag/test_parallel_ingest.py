"""`--workers N` and `--shard I/N`: the same store as one worker, whole papers after a failure, shares that
cover every paper once, and one-line errors for malformed values."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from eval.bench import synthetic as bench
from rag.batches import in_shard, parse_shard
from rag.embed import HashEmbedder
from rag.errors import InputError
from rag.ingest import ingest
from rag.store import ChromaStore, open_client

PAPERS = bench.synthetic_papers(240)


def _store(path, name="papers"):
    return ChromaStore(open_client(path), name, embedder_name="hash-embedder")


def _chunk_ids(store) -> set[str]:
    return {cid for cid, _, _ in store.iter_chunks(documents=False)}


def test_two_workers_write_the_same_store_as_one(tmp_path):
    one, two = _store(tmp_path / "one"), _store(tmp_path / "two")
    seen = []
    r1 = ingest(PAPERS, one, HashEmbedder(), batch_size=16, progress=False)
    r2 = ingest(PAPERS, two, HashEmbedder(), batch_size=16, workers=2, progress=False,
                on_batch=lambda n, total: seen.append(n))
    assert (r2.added, r2.chunks) == (r1.added, r1.chunks) == (240, one.count_chunks())
    assert _chunk_ids(one) == _chunk_ids(two) and one.paper_hashes() == two.paper_hashes()
    assert seen == sorted(seen) and seen[-1] == 240        # progress moves forward as batches land


class _FailsOnCall(HashEmbedder):
    def __init__(self, call: int):
        super().__init__()
        self.calls, self.call = 0, call

    def embed(self, texts):
        self.calls += 1                  # not locked: an exact count does not matter, one failure does
        if self.calls == self.call:
            raise RuntimeError("embedder crashed")
        return super().embed(texts)


def test_a_failed_batch_among_two_workers_leaves_whole_papers_and_the_rerun_finishes(tmp_path):
    store = _store(tmp_path)
    with pytest.raises(RuntimeError, match="embedder crashed"):
        ingest(PAPERS, store, _FailsOnCall(4), batch_size=16, workers=2, progress=False)
    ids = {m["paper_id"] for _, _, m in store.iter_chunks(documents=False)}
    done = store.paper_hashes()
    assert 0 < len(done) < len(PAPERS) and set(done) == ids        # nothing half-written
    report = ingest(PAPERS, store, HashEmbedder(), batch_size=16, workers=2, progress=False)
    assert report.unchanged == len(done) and report.added == len(PAPERS) - len(done)
    assert len(store.paper_hashes()) == len(PAPERS)


def test_shards_cover_every_paper_exactly_once(tmp_path):
    store = _store(tmp_path)
    reports = [ingest(PAPERS, store, HashEmbedder(), shard=(i, 3), progress=False) for i in (1, 2, 3)]
    assert [r.added for r in reports] == [sum(in_shard(p.paper_id, (i, 3)) for p in PAPERS) for i in (1, 2, 3)]
    assert all(r.added > 40 for r in reports)                       # roughly a third each
    assert sum(r.added for r in reports) == len(store.paper_hashes()) == len(PAPERS)
    assert reports[0].other_shards == len(PAPERS) - reports[0].added
    assert "left to the other shards" in reports[0].line()


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "2", "a/b", "1/2/3", ""])
def test_malformed_shards_are_refused(text):
    with pytest.raises(InputError, match="--shard must look like I/N"):
        parse_shard(text)
    assert parse_shard(" 2/4 ") == (2, 4)


@pytest.mark.slow
@pytest.mark.parametrize("args,message", [
    (["--workers", "0"], "rag: error: --workers must be between 1 and 64"),
    (["--workers", "-3"], "rag: error: --workers must be between 1 and 64"),
    (["--shard", "3/2"], "rag: error: --shard must look like I/N with 1 <= I <= N (e.g. 1/4), not '3/2'"),
    (["--shard", "half"], "rag: error: --shard must look like I/N with 1 <= I <= N (e.g. 1/4), not 'half'"),
    (["--shard", "1/2", "--reset"], "rag: error: --reset cannot be combined with --shard: each machine would "
                                    "replace the whole collection with its share; reset on one machine first, "
                                    "then run the shards without --reset"),
])
def test_ingest_command_refuses_bad_workers_and_shards_in_one_line(tmp_path, args, message):
    env = {**os.environ, "RAG_HOME": str(tmp_path), "RAG_EMBEDDER": "hash"}
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", *args], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode in (1, 2) and proc.stderr.strip().splitlines() == [message]
    assert not (tmp_path / "chroma").exists()
