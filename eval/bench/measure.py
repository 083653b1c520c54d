"""The measurements of `rag bench`: ingest, retrieval, start-up in fresh processes, answers, summaries."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from eval.metrics import percentile  # one implementation, tested in tests/eval/test_metrics.py
from rag.types import Paper

# -- small statistics ------------------------------------------------------------------------------------
def summarize(values: Iterable[float | None]) -> dict:
    """n, p50, p95, mean, min, max of the values that are not None."""
    xs = [float(v) for v in values if v is not None]
    return {"n": len(xs), "p50": percentile(xs, 50), "p95": percentile(xs, 95),
            "mean": statistics.fmean(xs) if xs else None, "min": min(xs, default=None), "max": max(xs, default=None)}


def _r(x, digits: int = 3):
    return None if x is None else round(float(x), digits)


def _median(values) -> float | None:
    return percentile(values, 50)


# -- ingest and retrieval ----------------------------------------------------------------------------------
def bench_ingest(source: Sequence[Paper] | Path, store_dir: Path, embedder, *, collection: str = "papers",
                 progress: bool = True) -> tuple[dict, object]:
    """Ingest into a fresh store at store_dir; (figures, store). A file goes through the same path as
    `rag ingest` (check, stream, batches); the seconds include reading it. Import costs are paid untimed."""
    from rag.corpus import read_corpus
    from rag.ingest import chunk_papers, ingest, ingest_sources
    from rag.store import ChromaStore, open_client

    store = ChromaStore(open_client(Path(store_dir)), collection, embedder_name=embedder.name)
    is_file = isinstance(source, (str, Path))
    first = next(p for p in (read_corpus([source]) if is_file else source) if isinstance(p, Paper))
    embedder.embed([c.embed_text for c in chunk_papers([first], embedder)])   # warm-up, untimed
    t0 = time.perf_counter()
    report = (ingest_sources([source], store, embedder, progress=progress) if is_file else
              ingest(source, store, embedder, progress=progress))
    seconds = time.perf_counter() - t0
    n = report.added + report.updated
    return {"papers": n, "chunks": report.chunks, "seconds": _r(seconds),
            "papers_per_s": _r(n / seconds if seconds > 0 else None, 2)}, store


def bench_retrieval(store, embedder, queries: Sequence[str], *, top_k: int = 5, fusion: str = "relative_score",
                    passages_per_paper: int = 1, warmup: int = 3) -> dict:
    """Latency of HybridRetriever.retrieve over the queries (after a few untimed warm-up calls)."""
    from rag.retrieve import HybridRetriever

    t0 = time.perf_counter()
    retriever = HybridRetriever(store, embedder, fusion=fusion, passages_per_paper=passages_per_paper)
    build_s = time.perf_counter() - t0
    for q in queries[:warmup]:
        retriever.retrieve(q, top_k)
    ms = []
    for q in queries:
        t = time.perf_counter()
        retriever.retrieve(q, top_k)
        ms.append(1000 * (time.perf_counter() - t))
    s = summarize(ms)
    return {"papers": retriever.n_papers, "queries": len(ms), "p50_ms": _r(s["p50"], 1), "p95_ms": _r(s["p95"], 1),
            "mean_ms": _r(s["mean"], 1), "max_ms": _r(s["max"], 1), "index_build_s": _r(build_s)}


# -- subprocess timings -----------------------------------------------------------------------------------
def help_time(runs: int = 3) -> dict:
    """Wall time of `rag --help` in fresh processes (median of runs)."""
    script = Path(sys.executable).with_name("rag")
    cmd = [str(script), "--help"] if script.is_file() else [sys.executable, "-m", "rag.cli", "--help"]
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True, timeout=60)
        times.append(time.perf_counter() - t0)
    return {"median_s": _r(_median(times)), "runs_s": [_r(t) for t in times]}


# Run in a fresh interpreter: import and build every part, print wall-clock stamps (time.time()).
_READY_SCRIPT = """
import json, time
stamps = {}
from rag.settings import set_offline_env, settings_from_env
set_offline_env()
from rag.build import build_parts_and_generator, index_folder
from rag.retrieve import HybridRetriever
s = settings_from_env()
stamps["imports"] = time.time()
parts, generator = build_parts_and_generator(s, progress=False)
stamps["models_and_store"] = time.time()
HybridRetriever(parts.store, parts.embedder, fusion=s.fusion, passages_per_paper=s.passages_per_paper,
                index=index_folder(s))      # as rag.build.build_pipeline: the saved BM25 index
stamps["retriever"] = time.time()
print("READY " + json.dumps(stamps))
"""


def time_to_ready(env: dict[str, str], *, timeout: float = 1800) -> dict:
    """Seconds from starting a fresh Python process to all parts built, with the steps' shares."""
    t0 = time.time()
    try:
        proc = subprocess.run([sys.executable, "-c", _READY_SCRIPT], env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"seconds": None, "error": f"timed out after {timeout:.0f} s"}
    line = next((x for x in proc.stdout.splitlines() if x.startswith("READY ")), None)
    if proc.returncode != 0 or line is None:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return {"seconds": None, "error": f"exit {proc.returncode}: {tail}"}
    stamps = json.loads(line[len("READY "):])
    steps, prev = {}, t0
    for name in ("imports", "models_and_store", "retriever"):
        steps[name + "_s"], prev = _r(stamps[name] - prev), stamps[name]
    return {"seconds": _r(stamps["retriever"] - t0), "steps": steps}


# -- answers ---------------------------------------------------------------------------------------------
class RecordingGenerator:
    """Wraps a generator; remembers the last chat it was asked, the pieces it streamed and the prefill time."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, getattr(inner, "name", type(inner).__name__)
        self.reset()

    def reset(self) -> None:
        self.messages: list | None = None
        self.pieces: list[str] = []
        self.prefill_s: float | None = None    # from the model being asked to its first piece

    def stream(self, messages, *, max_new_tokens: int):
        self.messages, self.pieces, self.prefill_s = list(messages), [], None
        t0 = time.perf_counter()
        for piece in self.inner.stream(messages, max_new_tokens=max_new_tokens):
            if self.prefill_s is None:
                self.prefill_s = time.perf_counter() - t0
            self.pieces.append(piece)
            yield piece

    def prompt_tokens(self) -> int | None:
        count = getattr(self.inner, "count_tokens", None)
        return count(self.messages) if count and self.messages is not None else None

    def generated_tokens(self) -> int:
        """Tokens of the streamed reply by the generator's tokenizer (pieces when it has none)."""
        tokenizer = getattr(self.inner, "tokenizer", None)
        text = "".join(self.pieces)
        if tokenizer is None or not text:
            return len(self.pieces)
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def measure_answer(ask: Callable[[str], object], recorder: RecordingGenerator, question: str,
                   keywords: Sequence[str]) -> dict:
    """One question through `ask`: sizes, timings and whether the answer holds the keywords."""
    recorder.reset()
    answer = ask(question)
    t = answer.timings
    called = recorder.messages is not None
    generated = recorder.generated_tokens() if called else 0
    first, total = t.get("first_token_s"), t.get("total_s")
    # The baseline shows nothing before the end: its first sentence is the whole answer.
    sentence = t.get("first_sentence_s", total)
    decode = generated / (total - first) if generated > 1 and first is not None and total > first else None
    text = " ".join(answer.answer.split()).casefold()
    return {"question": question, "answer": answer.answer, "abstained": answer.abstained,
            "correct": not answer.abstained and all(k.casefold() in text for k in keywords),
            "reached_model": called, "prompt_tokens": recorder.prompt_tokens() if called else None,
            "generated_tokens": generated, "retrieve_s": _r(t.get("retrieve_s")), "prefill_s": _r(recorder.prefill_s),
            "first_token_s": _r(first), "first_sentence_s": _r(sentence),
            "total_s": _r(total), "decode_tokens_per_s": _r(decode, 1)}


def summarize_answers(rows: Sequence[dict]) -> dict:
    """Medians over the questions that reached the model (a refusal before generation takes milliseconds)."""
    model = [r for r in rows if r["reached_model"]] or list(rows)
    return {"questions": len(rows), "reached_model": sum(r["reached_model"] for r in rows),
            "abstained": sum(r["abstained"] for r in rows), "correct": sum(r["correct"] for r in rows),
            **{k: _r(_median(r.get(k) for r in model), 3 if k.endswith("_s") else 1)
               for k in ("prompt_tokens", "generated_tokens", "retrieve_s", "prefill_s", "first_token_s",
                       "first_sentence_s", "decode_tokens_per_s", "total_s")},
            "per_question": list(rows)}


def ratios(ours: dict, baseline: dict) -> dict:
    """ours / baseline for each answer figure."""
    out = {}
    for k in ("prompt_tokens", "prefill_s", "first_token_s", "first_sentence_s", "decode_tokens_per_s", "total_s",
              "correct"):
        a, b = ours.get(k), baseline.get(k)
        out[k] = _r(a / b) if a is not None and b else None
    return out


def bench_summary(pipeline, topic: str, papers: int = 10, baseline=None) -> dict:
    """A cited summary over exactly `papers` papers (the cut-off opened up), timed end to end; with `baseline`,
    also the plain pipeline asked for the same summary, and the ratio."""
    import dataclasses

    from rag.answer.summarize import Summarizer

    s = pipeline.summarizer
    config = dataclasses.replace(s.config, min_relative=0.0, min_dense=0.0, min_support=0.0, max_papers=papers)
    opened = Summarizer(s.retriever, s.generator, s.checker, config=config, policy=s.policy, model_info=s.model_info)
    t0 = time.perf_counter()
    summary = opened.summarize(topic)
    seconds = time.perf_counter() - t0
    out = {"topic": topic, "papers": len(summary.papers), "total_s": _r(seconds), "citations": len(summary.citations),
           "supported": sum(c.supported for c in summary.citations), "flagged": len(summary.flagged)}
    if baseline is not None:
        t0 = time.perf_counter()
        baseline.ask(f"Summarize what the papers say about {topic}.")
        out["baseline_total_s"] = _r(time.perf_counter() - t0)
        out["ratio_ours_over_baseline"] = _r(seconds / out["baseline_total_s"])
    return out


def bench_load(home: Path, sessions: int = 5) -> dict:
    """The load test (eval.bench.load): `sessions` parallel chats of 3 questions against a real `rag ui`."""
    from eval.bench.load import run_load
    from eval.bench.ui_server import running_ui

    with running_ui(home) as server:
        report = run_load(server.url, server.proc.pid, sessions=sessions, bad_requests=False)
    summary = report.summary()
    return {"sessions": sessions, "answers": summary["answers"], "answers_ok": summary["answers_ok"],
            "wait_p50_s": summary["wait_p50_s"], "wait_p95_s": summary["wait_p95_s"],
            "rss_peak_mb": summary["rss_peak_mb"], "problems": summary["problems"]}


def machine_info(generator) -> dict:
    from rag.hardware import cpu_count

    cpu = next((line.split(":", 1)[1].strip() for line in _read("/proc/cpuinfo").splitlines()
                if line.startswith("model name")), "")
    torch = sys.modules.get("torch")
    return {"cores": cpu_count(), "cpu": cpu, "torch_threads": torch.get_num_threads() if torch else None,
            "precision": getattr(generator, "precision", None), "generator": getattr(generator, "name", ""),
            "load_average": [round(x, 2) for x in os.getloadavg()], "python": sys.version.split()[0]}


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""
