"""`rag bench`: the speed benchmark on this machine, against the speed targets.

Measures, in one run: `rag --help` and warm start (model load) in fresh subprocesses, ingest
throughput of the bundled corpus and of N synthetic abstracts into fresh temporary stores,
HybridRetriever latency at 213 and N papers, and for a fixed list of questions the prompt size,
time to first token, decode speed and end-to-end time of our pipeline and of the LlamaIndex
baseline run with the same generator. Stores live in a temporary folder; the user's store is
never opened. The converted generator is reused from settings.models_dir.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from eval.bench.measure import (RecordingGenerator, _r, bench_ingest, bench_load, bench_retrieval, bench_summary,
                                help_time, machine_info, measure_answer, ratios, summarize_answers, time_to_ready)
from eval.bench.report import check_targets, format_table
from eval.bench.synthetic import retrieval_queries, synthetic_papers, write_arxiv_jsonl

# (question, keywords a correct answer contains): single-paper facts of the bundled abstracts.
QUESTIONS: list[tuple[str, list[str]]] = [
    ("How many object classes does 3DIEBench have?", ["55"]),
    ("How many images does the 3DIEBench dataset contain?", ["2.5 million"]),
    ("What ImageNet-1K linear-probe accuracy does the Perceptual Group Tokenizer achieve?", ["80.3"]),
    ("How many identity groups does the INDIC-BIAS benchmark cover?", ["85"]),
    ("How many UI images with functionality descriptions are in the UICaption dataset used to train Lexi?",
     ["114k"]),
    ("What mean AUC does masked record modeling reach on CheXpert with 1% labeled data?", ["88.5"]),
    ("To what complexity does the Gaunt Tensor Product reduce full tensor products of irreps?", ["O(L^3)"]),
    ("On how many of the 12 MoleculeNet tasks does FARM achieve state-of-the-art performance?", ["10"]),
    ("How many whole-slide images were used to train Madeleine?", ["4,211"]),
    ("What mean average precision does the combinatorial hyperbolic tree embedding reach on WordNet "
     "in two dimensions?", ["0.989"]),
]

# Questions about several papers (multi-paper answers): (question, keywords naming each paper's method).
MULTI_QUESTIONS: list[tuple[str, list[str]]] = [
    ("Which papers use hyperbolic space for computer vision problems, and what are their methods named?",
     ["HypCD", "MERU"]),
    ("Which papers learn slide-level representations of pathology whole-slide images, and what are they called?",
     ["PANTHER", "Madeleine"]),
    ("How do MERU and HypCD differ in what they use hyperbolic space for?", ["MERU", "HypCD"]),
]
SUMMARY_TOPIC = "representation learning"        # broad: many bundled papers are on it



def _say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# -- the command ---------------------------------------------------------------------------------------
def main_bench(args, *, settings=None) -> int:
    """Run every measurement and print the table (or one JSON object with --json)."""
    from rag.settings import settings_from_env

    settings = settings or settings_from_env()
    n_questions = min(getattr(args, "questions", 10), len(QUESTIONS))
    load_avg, started = os.getloadavg(), time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    result: dict = {"settings": {"papers": getattr(args, "papers", 20000), "questions": n_questions,
                                 "skip_baseline": getattr(args, "skip_baseline", False),
                                 "cold_convert": getattr(args, "cold_convert", False),
                                 "models_dir": str(settings.models_dir)},
                    "startup": {}, "ingest": {}, "retrieval": {}, "answers": {}}
    try:
        _say("timing rag --help")
        result["startup"]["help"] = help_time()
        embedder, store = bench_corpora(args, settings, tmp, result)
        _say("loading the generator (converted once into the models cache if needed)")
        from rag.build import build_generator

        generator = build_generator(settings)
        result["startup"].update(bench_startup(settings, tmp, result["settings"]["cold_convert"]))
        ours, baseline = bench_answers(args, settings, embedder, store, generator, n_questions, result)
        if not getattr(args, "skip_summary", False):
            _say(f"summarizing {SUMMARY_TOPIC!r} over 10 papers")
            result["summary"] = bench_summary(ours, SUMMARY_TOPIC, baseline=baseline)
        if getattr(args, "load_test", False):
            _say("load test: 5 parallel chat sessions x 3 questions against a real `rag ui`")
            result["load"] = bench_load(tmp / "bundled")
        result["machine"] = {**machine_info(generator), "load_average": [round(x, 2) for x in load_avg],
                             "load_average_end": [round(x, 2) for x in os.getloadavg()]}
        result["targets"] = check_targets(result)
        result["wall_s"] = _r(time.perf_counter() - started, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False) if getattr(args, "json", False) else format_table(result))
    return 0


def bench_corpora(args, settings, tmp: Path, result: dict):
    """Ingest and retrieval on the bundled corpus, an existing store (--retrieval-home) and N synthetic papers."""
    from rag.build import build_embedder
    from rag.corpus import bundled_corpus

    embedder = build_embedder(settings)
    queries = retrieval_queries([q for q, _ in QUESTIONS])
    kw = {"fusion": settings.fusion, "passages_per_paper": settings.passages_per_paper}
    _say("ingesting the bundled corpus into a temporary store")
    result["ingest"]["bundled"], store = bench_ingest(bundled_corpus(), tmp / "bundled" / "chroma", embedder,
                                                      collection=settings.collection)
    result["retrieval"]["bundled"] = bench_retrieval(store, embedder, queries, **kw)
    result["ingest"]["synthetic"] = result["retrieval"]["synthetic"] = None
    home = getattr(args, "retrieval_home", None)
    if home:
        from dataclasses import replace

        from rag.build import open_store
        from rag.errors import RagError

        if not (Path(home) / "chroma").is_dir():
            raise RagError(f"{home}: no store there (expected {Path(home) / 'chroma'})")
        _say(f"timing retrieval on the existing store under {home}")
        _, existing = open_store(replace(settings, home=Path(home), chroma_url=""), embedder)
        result["retrieval"]["existing"] = bench_retrieval(existing, embedder, queries, **kw)
    n_papers = result["settings"]["papers"]
    if n_papers > 0:
        _say(f"ingesting {n_papers} synthetic abstracts into a temporary store")
        source = write_arxiv_jsonl(synthetic_papers(n_papers), tmp / "synthetic-arxiv.jsonl")
        result["ingest"]["synthetic"], synth = bench_ingest(source, tmp / "synthetic", embedder)
        result["retrieval"]["synthetic"] = bench_retrieval(synth, embedder, queries, **kw)
    return embedder, store


def bench_startup(settings, tmp: Path, cold_convert: bool) -> dict:
    """Warm start (cached model) in a fresh process; with cold_convert also a first run that converts it."""
    env = {**os.environ, "RAG_HOME": str(tmp / "bundled"), "RAG_MODELS_DIR": str(Path(settings.models_dir).resolve()),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
    _say("timing a warm start in a fresh process")
    out = {"warm_start": time_to_ready(env, timeout=600), "first_run": None}
    if cold_convert:
        _say("timing a first run with an empty models cache (assembles and converts the model)")
        out["first_run"] = time_to_ready({**env, "RAG_MODELS_DIR": str(tmp / "cold-models")})
        shutil.rmtree(tmp / "cold-models", ignore_errors=True)
    return out


def bench_answers(args, settings, embedder, store, generator, n_questions: int, result: dict):
    """The fixed questions (single-paper, then multi-paper) through our pipeline and the baseline, interleaved;
    returns both pipelines."""
    from rag.answer.citations import SupportChecker
    from rag.build import Parts, build_pipeline

    recorder = RecordingGenerator(generator)
    ours = build_pipeline(settings, parts=Parts(settings, embedder, store, getattr(store, "client", None)),
                          generator=recorder)
    baseline = None
    if not getattr(args, "skip_baseline", False):
        from eval.baseline import BaselinePipeline

        baseline = BaselinePipeline(store, embedder, recorder, checker=SupportChecker(embedder, settings.support),
                                    max_new_tokens=settings.max_new_tokens)
    for _ in generator.stream([{"role": "user", "content": "Hello"}], max_new_tokens=2):
        pass                                   # warm-up: first-call costs are not an answer's
    for key, questions in (("answers", QUESTIONS[:n_questions]), ("multi", MULTI_QUESTIONS)):
        rows: dict[str, list] = {"ours": [], "baseline": []}
        for i, (question, keywords) in enumerate(questions, 1):
            _say(f"{key} question {i}/{len(questions)}: {question}")
            rows["ours"].append(measure_answer(ours.ask, recorder, question, keywords))
            if baseline:                            # interleaved, so both see the same machine load
                rows["baseline"].append(measure_answer(baseline.ask, recorder, question, keywords))
        out = result.setdefault(key, {})
        out["ours"] = summarize_answers(rows["ours"])
        out["baseline"] = summarize_answers(rows["baseline"]) if baseline else None
        out["ratio_ours_over_baseline"] = ratios(out["ours"], out["baseline"]) if baseline else None
    return ours, baseline
