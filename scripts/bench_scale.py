"""The scaling figures of docs/scaling.md: start time and retrieval latency at N papers, ingest rates, disk.

    .venv/bin/python scripts/bench_scale.py retrieval --papers 200000 --home /tmp/scale-200k
    .venv/bin/python scripts/bench_scale.py ingest --papers 1000 [--embed-url http://127.0.0.1:7997/v1]
    .venv/bin/python scripts/bench_scale.py resets --papers 2000

`retrieval` builds (once; later runs reuse it) a store of N synthetic arXiv-format papers under --home with
`rag ingest` and RAG_EMBEDDER=hash (no model: the 200,000-paper ingest stays short), then times a start in
fresh processes (imports, opening the store and the saved BM25 index, the first question) and the retriever's
p50/p95 over 50 queries. `ingest` times the bundled MiniLM with 1 and 2 workers, an embedding server with 1
and 2 workers (infinity-emb from .venv-infinity is started on this machine if no --embed-url is given), and
the ingest with embeddings computed beforehand (what one machine can feed when servers do the embedding).
`resets` measures the data folder after 1 and 5 `rag ingest --reset`. Each prints one JSON object, with the
machine's load average (other jobs share this machine: compare figures taken at similar loads).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from eval.metrics import percentile  # noqa: E402
from eval.bench import synthetic as bench  # noqa: E402
from eval.bench.cli import QUESTIONS  # noqa: E402

ENV = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
       "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error"}

# A fresh process: wall-clock stamps after the imports, the opened store and index, and the first question.
START = """
import json, sys, time
from rag.settings import set_offline_env, settings_from_env
set_offline_env()
from rag.build import build_embedder, index_folder, open_store
from rag.retrieve import HybridRetriever
stamps = {"imports": time.time()}
s = settings_from_env()
embedder = build_embedder(s)
client, store = open_store(s, embedder)
retriever = HybridRetriever(store, embedder, fusion=s.fusion, index=index_folder(s))
stamps["opened"] = time.time()
retriever.retrieve(sys.argv[1], 5)
stamps["first_question"] = time.time()
rss = next(int(x.split()[1]) for x in open("/proc/self/status") if x.startswith("VmRSS:"))
print("READY " + json.dumps({**stamps, "rss_mb": rss / 1024}))
"""


def _du(folder: Path) -> int:
    return sum(f.stat().st_size for f in Path(folder).rglob("*") if f.is_file())


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def ensure_store(n: int, home: Path, workers: int) -> dict:
    """Ingest n synthetic papers under home with the hashing embedder, unless a previous run did."""
    source = home / f"synthetic-{n}.jsonl"
    home.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        bench.write_arxiv_jsonl(bench.synthetic_papers(n), source)
    t0, load = time.perf_counter(), _load()
    done = subprocess.run([sys.executable, "-m", "rag.cli", "ingest", "--source", str(source), "--workers",
                           str(workers)], env={**ENV, "RAG_HOME": str(home), "RAG_EMBEDDER": "hash"},
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"ingest failed: {done.stderr[-2000:]}")
    return {"command": f"RAG_HOME={home} RAG_EMBEDDER=hash rag ingest --source {source} --workers {workers}",
            "report": done.stdout.splitlines()[0], "seconds": round(time.perf_counter() - t0, 1),
            "load_before": load}


def time_start(home: Path, runs: int = 3) -> dict:
    """Median over fresh processes of: process start -> imports, -> store and BM25 index open, -> first answer."""
    rows = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", START, QUESTIONS[0][0]], capture_output=True, text=True,
                             env={**ENV, "RAG_HOME": str(home), "RAG_EMBEDDER": "hash"}, cwd=REPO)
        line = next((x for x in out.stdout.splitlines() if x.startswith("READY ")), None)
        if line is None:
            sys.exit(f"start failed: {out.stderr[-2000:]}")
        s = json.loads(line[6:])
        rows.append({"imports_s": s["imports"] - t0, "open_s": s["opened"] - s["imports"],
                     "first_question_s": s["first_question"] - s["opened"], "total_s": s["first_question"] - t0,
                     "rss_mb": s["rss_mb"]})
    return {k: round(percentile([r[k] for r in rows], 50), 2) for k in rows[0]} | {"runs": runs}


def time_retrieval(home: Path) -> dict:
    """p50/p95 of HybridRetriever.retrieve over the 50 fixed queries, after 3 untimed ones, in this process."""
    from rag.build import build_embedder, index_folder, open_store
    from rag.retrieve import HybridRetriever
    from rag.settings import Settings

    settings = Settings(home=home, embedder="hash")
    embedder = build_embedder(settings)
    _, store = open_store(settings, embedder)
    retriever = HybridRetriever(store, embedder, fusion=settings.fusion, index=index_folder(settings))
    queries = bench.retrieval_queries([q for q, _ in QUESTIONS])
    for q in queries[:3]:
        retriever.retrieve(q, 5)
    ms = _timed(lambda q: retriever.retrieve(q, 5), queries)
    vectors = {q: embedder.embed([q])[0] for q in queries}
    parts = {"bm25_search": _timed(lambda q: retriever.bm25.search(q, 40), queries),
             "dense_query": _timed(lambda q: store.query(vectors[q], 40), queries),
             "read_hits": _timed(lambda q: store.chunks([c for c, _ in store.query(vectors[q], 10)]), queries)}
    t0 = time.perf_counter()
    rebuilt = index_folder(settings).build(store)          # what every start paid before this change
    return {"papers": retriever.n_papers, "chunks": store.count_chunks(), "queries": len(ms),
            "p50_ms": round(percentile(ms, 50), 1), "p95_ms": round(percentile(ms, 95), 1),
            "parts_p50_ms": {k: round(percentile(v, 50), 1) for k, v in parts.items()},
            "parts_p95_ms": {k: round(percentile(v, 95), 1) for k, v in parts.items()},
            "bm25_rebuild_from_store_s": round(time.perf_counter() - t0, 1), "bm25_chunks": rebuilt.size}


def _timed(call, queries) -> list[float]:
    ms = []
    for q in queries:
        t = time.perf_counter()
        call(q)
        ms.append(1000 * (time.perf_counter() - t))
    return ms


def cmd_retrieval(args) -> dict:
    home = Path(args.home or f"/tmp/rag-scale-{args.papers}")
    out = {"papers": args.papers, "home": str(home), "load_start": _load()}
    if not (home / "bm25" / "papers" / "meta.json").exists():
        out["ingest"] = ensure_store(args.papers, home, args.workers)
    out["start"] = time_start(home)
    out["retrieval"] = time_retrieval(home)
    out["disk_mb"] = {"chroma": round(_du(home / "chroma") / 1e6), "bm25": round(_du(home / "bm25") / 1e6)}
    out["load_end"] = _load()
    return out


def ingest_rate(papers, embedder, workers: int, chroma_url: str = "") -> dict:
    """Papers per second of ingest() into a fresh collection, in a temporary folder or on a Chroma server (the
    embedder is loaded and warmed first)."""
    from rag.ingest import chunk_papers, ingest
    from rag.store import ChromaStore, open_client

    embedder.embed([c.embed_text for c in chunk_papers(papers[:8], embedder)])     # warm-up, untimed
    with tempfile.TemporaryDirectory(prefix="rag-rate-") as tmp:
        client = open_client(Path(tmp), url=chroma_url)
        name = f"rate-{workers}-{int(time.time())}"
        store = ChromaStore(client, name, embedder_name=embedder.name)
        load, t0 = _load(), time.perf_counter()
        report = ingest(papers, store, embedder, workers=workers, progress=False)
        seconds = time.perf_counter() - t0
        client.delete_collection(name)
    return {"workers": workers, "papers": report.added, "chunks": report.chunks, "seconds": round(seconds, 1),
            "papers_per_s": round(report.added / seconds, 1), "load_before": load}


class Precomputed:
    """The local embedder's vectors, computed before the clock starts: what the rest of ingest (parse, chunk,
    write) can do on this machine when embedding costs nothing, i.e. with enough embedding servers."""

    def __init__(self, embedder, papers):
        from rag.ingest import chunk_papers

        self.name, self.max_tokens, self.tokenize = embedder.name, embedder.max_tokens, embedder.tokenize
        texts = [c.embed_text for c in chunk_papers(papers, embedder)]
        self._vectors = dict(zip(texts, embedder.embed(texts)))

    def embed(self, texts):
        return [self._vectors[t] for t in texts]


def cmd_ingest(args) -> dict:
    from rag.build import build_embedder
    from rag.settings import Settings

    papers = bench.synthetic_papers(args.papers, seed=3)
    local = build_embedder(Settings())
    out = {"papers": args.papers, "local": [ingest_rate(papers, local, w) for w in (1, 2)]}
    url, server = args.embed_url, None
    if not url:
        server, url = _start_infinity(args.server_dtype)
    try:
        served = build_embedder(Settings(embed_base_url=url, embed_model="all-MiniLM-L6-v2",
                                         embed_concurrency=args.concurrency))
        out["server"] = [ingest_rate(papers, served, w) for w in (1, 2)]
        out["server_url"], out["server_dtype"] = url, None if args.embed_url else args.server_dtype
    finally:
        if server is not None:
            server.__exit__(None, None, None)
    free = Precomputed(local, papers)
    out["embedding_free"] = [ingest_rate(papers, free, w) for w in (1, 2)]
    out["embedding_free_chroma_server"] = _into_chroma_server(papers, free)
    return out


def _into_chroma_server(papers, embedder) -> list[dict]:
    """The embedding-free ingest into a `chroma run` server on loopback (what one writer costs a server)."""
    from tests.support.servers import chroma_argv, free_port, running_server

    with tempfile.TemporaryDirectory(prefix="rag-chroma-") as tmp:
        port = free_port()
        with running_server(chroma_argv(Path(tmp), port), "/api/v2/heartbeat", port, deadline_s=60) as url:
            return [ingest_rate(papers, embedder, w, chroma_url=url) for w in (1, 2)]


def _start_infinity(dtype: str):
    from rag.embed import bundled_embedder_path
    from tests.support.servers import free_port, infinity_argv, running_server

    port = free_port()
    argv, env = infinity_argv(bundled_embedder_path(), port)
    server = running_server([*argv, "--dtype", dtype], "/v1/models", port, deadline_s=240, env=env)
    return server, server.__enter__() + "/v1"


def cmd_resets(args) -> dict:
    """Data folder size after an ingest, then after 1 and after 5 `rag ingest --reset` (hashing embedder)."""
    with tempfile.TemporaryDirectory(prefix="rag-resets-") as tmp:
        home = Path(tmp)
        source = bench.write_arxiv_jsonl(bench.synthetic_papers(args.papers), home / "papers.jsonl")
        env = {**ENV, "RAG_HOME": str(home / "home"), "RAG_EMBEDDER": "hash"}
        sizes, seconds = [], []
        for i in range(6):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "rag.cli", "ingest", "--source", str(source)]
                           + (["--reset"] if i else []), env=env, check=True, capture_output=True)
            seconds.append(round(time.perf_counter() - t0, 1))
            sizes.append(_du(home / "home"))
    return {"papers": args.papers, "bytes_after_ingest": sizes[0], "bytes_after_1_reset": sizes[1],
            "bytes_after_5_resets": sizes[5], "ratio_5_over_1": round(sizes[5] / sizes[1], 3), "seconds": seconds}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="what", required=True)
    r = sub.add_parser("retrieval")
    r.add_argument("--papers", type=int, default=200000)
    r.add_argument("--home", help="where the store is built (default /tmp/rag-scale-N); reused when present")
    r.add_argument("--workers", type=int, default=2)
    i = sub.add_parser("ingest")
    i.add_argument("--papers", type=int, default=1000)
    i.add_argument("--embed-url", help="a running OpenAI-compatible server serving all-MiniLM-L6-v2")
    i.add_argument("--concurrency", type=int, default=4)
    i.add_argument("--server-dtype", default="bfloat16", choices=["float32", "bfloat16"],
                   help="infinity's precision when this script starts it (the local embedder runs bfloat16 here)")
    s = sub.add_parser("resets")
    s.add_argument("--papers", type=int, default=2000)
    args = p.parse_args()
    result = {"retrieval": cmd_retrieval, "ingest": cmd_ingest, "resets": cmd_resets}[args.what](args)
    print(json.dumps({"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), **result}, indent=1))


if __name__ == "__main__":
    main()
