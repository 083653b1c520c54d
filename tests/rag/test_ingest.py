"""Streaming ingest: batches, skip counts, progress, resume after a real SIGKILL, and the `rag ingest` command."""
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from eval.bench import synthetic as bench
from rag.records import Skip
from rag.corpus import read_corpus
from rag.embed import HashEmbedder
from rag.ingest import chunk_papers, ingest, ingest_sources
from rag.store import ChromaStore, open_client

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _store(path):
    return ChromaStore(open_client(path), "papers", embedder_name="hash-embedder")


def test_streamed_records_are_written_in_batches_and_skips_are_counted(tmp_path, tiny_papers):
    records = [tiny_papers[0], Skip("f:2", "no abstract"), tiny_papers[1], Skip("f:4", "same title as f:1", "duplicate"),
               *tiny_papers[2:], Skip("f:9", "dated 2019, before 2023-01-01", "filtered")]
    writes, seen = [], []
    store = _store(tmp_path)
    original = store.write_papers
    store.write_papers = lambda chunks, *a, **k: (writes.append({c.paper.paper_id for c in chunks}),
                                                  original(chunks, *a, **k))
    report = ingest(iter(records), store, HashEmbedder(), batch_size=4, progress=False, on_skip=seen.append)
    assert [len(w) for w in writes] == [4, 2]
    assert (report.records, report.added, report.errors, report.duplicates, report.filtered) == (9, 6, 1, 1, 1)
    assert report.examples == [records[1]] and seen == [r for r in records if isinstance(r, Skip)]
    assert "skipped 1 unusable, 1 duplicates, 1 filtered out" in report.line()
    assert len(store.paper_hashes()) == 6


def test_progress_bar_counts_records_against_the_checked_total(tmp_path, capsys):
    f = tmp_path / "a.jsonl"
    bench.write_arxiv_jsonl(bench.synthetic_papers(30), f)
    with f.open("a") as out:
        out.write("{broken\n")
    done = []
    report = ingest_sources([f], _store(tmp_path / "s"), HashEmbedder(), batch_size=8,
                            on_batch=lambda n, total: done.append((n, total)))
    err = capsys.readouterr().err
    assert re.search(r"ingest: 100%\|.*\| 31/31 \[.*paper/s", err), err[-500:]
    assert done[-1] == (31, 31) and [n for n, _ in done] == sorted(n for n, _ in done)
    assert report.added == 30 and report.errors == 1


def test_a_file_level_problem_stops_before_anything_is_written(tmp_path):
    good, bad = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    bench.write_arxiv_jsonl(bench.synthetic_papers(5), good)
    bad.write_bytes(b'{"title": "T", "abstract": "caf\xe9"}\n')
    store = _store(tmp_path / "s")
    with pytest.raises(Exception, match=r"b\.jsonl:1: not UTF-8"):
        ingest_sources([good, bad], store, HashEmbedder(), progress=False)
    assert store.count_chunks() == 0


def _run(args, home, **kw):
    env = {**os.environ, "RAG_HOME": str(home), "RAG_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "rag.cli", *args], env=env, cwd=str(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)


_STORE_STATE = """
import json, sys
from pathlib import Path
from rag.store import ChromaStore, open_client
store = ChromaStore(open_client(Path(sys.argv[1])), "papers")
ids = {m["paper_id"] for _, _, m in store.iter_chunks()}
print(json.dumps({"papers": len(ids), "complete": len(store.paper_hashes()), "chunks": store.count_chunks()}))
"""


def _store_state(home) -> dict:
    """Read the store in a fresh process, as the next `rag` command would."""
    out = subprocess.run([sys.executable, "-c", _STORE_STATE, str(home / "chroma")], capture_output=True, text=True,
                         env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    assert out.returncode == 0, out.stderr[-800:]
    return json.loads(out.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_sigkilled_ingest_resumes_without_redoing_finished_batches(tmp_path, workers):
    n = 1000
    source = bench.write_arxiv_jsonl(bench.synthetic_papers(n), tmp_path / "arxiv.jsonl")
    home = tmp_path / "home"
    home.mkdir()
    proc = _run(["ingest", "--source", str(source), "--batch-size", "8", "--workers", str(workers)], home)
    progress = bytearray()

    def read_progress():
        for piece in iter(lambda: proc.stderr.read1(256), b""):
            progress.extend(piece)

    reader = threading.Thread(target=read_progress, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while True:     # wait until a few batches are written, then kill without warning
        done = [int(x) for x in re.findall(rb"(\d+)/%d " % n, bytes(progress))]
        if done and max(done) >= 40:
            proc.send_signal(signal.SIGKILL)
            break
        assert proc.poll() is None, f"ingest ended before it could be killed: {bytes(progress)[-300:]}"
        assert time.monotonic() < deadline, bytes(progress)[-300:]
        time.sleep(0.02)
    proc.wait()
    reader.join(5)
    assert proc.returncode == -signal.SIGKILL
    killed = _store_state(home)
    assert 40 <= killed["complete"] < n, killed
    assert killed["papers"] == killed["complete"]           # no paper left half-written

    rerun = _run(["ingest", "--source", str(source), "--workers", str(workers)], home)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err.decode()[-500:]
    line = out.decode().splitlines()[0]
    assert line == (f"{n} records read: {n - killed['complete']} added, 0 updated, {killed['complete']} unchanged "
                    f"({line.split('(')[1]}"), line
    final = _store_state(home)
    expected_chunks = len(chunk_papers([r for r in read_corpus([source])], HashEmbedder()))
    assert final == {"papers": n, "complete": n, "chunks": expected_chunks}


@pytest.mark.slow
def test_ingest_command_reports_skips_and_writes_every_reason(tmp_path):
    source = tmp_path / "mixed.jsonl"
    good = [{**bench.arxiv_record(p), "categories": "cs.LG"} for p in bench.synthetic_papers(3)]
    lines = [json.dumps(good[0]), "{not json", json.dumps({"title": "No abstract"}), json.dumps(good[1]),
             json.dumps(good[0]), json.dumps({**good[2], "categories": "cs.CV"})]
    source.write_text("\n".join(lines) + "\n")
    home = tmp_path / "home"
    home.mkdir()
    out, err = _run(["ingest", "--source", str(source), "--category", "cs.LG"], home).communicate(timeout=120)
    text = out.decode()
    assert re.fullmatch(r"6 records read: 2 added, 0 updated, 0 unchanged \(\d+ chunks written\); "
                        r"skipped 2 unusable, 1 duplicates, 1 filtered out", text.splitlines()[0]), text
    assert f"skipped {source}:2: not valid JSON" in text and f"skipped {source}:3: no abstract" in text
    listed = (home / "ingest-skipped.txt").read_text().splitlines()
    assert listed == [f"{source}:2: error: not valid JSON (Expecting property name enclosed in double quotes)",
                      f"{source}:3: error: no abstract", f"{source}:5: duplicate: same id as {source}:1"]


@pytest.mark.parametrize("args,message", [
    (["--source", "missing.jsonl"], "missing.jsonl: no such file or folder"),
    (["--year", "2023", "--since", "2020-01-01"], "either --year or --since/--until"),
    (["--since", "yesterday"], "--since 'yesterday' is not a date"),
    (["--since", "2024-01-01", "--until", "2023-01-01"], "is before --since"),
])
def test_ingest_command_bad_input_is_one_line(tmp_path, args, message):
    proc = _run(["ingest", *args], tmp_path)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rag: error: ") and message in lines[0], lines
    assert not (tmp_path / "chroma").exists()       # nothing written, not even an empty store


@pytest.mark.slow
def test_first_start_reports_ingest_progress_against_the_bundled_total(tmp_path):
    from rag.build import build_parts
    from rag.corpus import load_corpus
    from rag.settings import Settings

    seen = []
    build_parts(Settings(home=tmp_path, embedder="hash"), progress=False, on_ingest=lambda d, t: seen.append((d, t)))
    n = len(load_corpus())
    assert seen[-1] == (n, n) and all(t == n for _, t in seen)
