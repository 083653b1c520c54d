"""`rag bench`: the speed benchmark on this machine, against the targets of the speed issue.

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
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

from eval.metrics import percentile  # one implementation, tested in tests/test_metrics.py
from rag.types import Paper

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

# The targets of the speed issue: name -> (comparison, threshold, unit).
TARGETS = {
    "first_token_s": ("<=", 1.0, "s"),
    "end_to_end_s": ("<=", 4.0, "s"),
    "warm_start_s": ("<=", 5.0, "s"),
    "retrieval_p95_ms_at_20k": ("<=", 50.0, "ms"),
    "ingest_papers_per_s": (">=", 20.0, "papers/s"),
    "help_s": ("<", 1.0, "s"),
    "answers_vs_baseline": (">=", 0, "correct answers, ours - baseline"),
    "summary_10_papers_s": ("<=", 90.0, "s"),      # from the summaries issue
}
SUMMARY_TOPIC = "representation learning"        # broad: many bundled papers are on it

# -- the synthetic corpus ------------------------------------------------------------------------------
ADJ = ["robust", "scalable", "efficient", "sparse", "hierarchical", "contrastive", "self-supervised",
       "probabilistic", "equivariant", "adaptive", "multimodal", "federated", "causal", "generative",
       "lightweight", "interpretable", "differentiable", "Bayesian", "graph-based", "recurrent"]
METHOD = ["transformer", "diffusion model", "autoencoder", "graph neural network", "mixture of experts",
          "state space model", "normalizing flow", "policy gradient method", "retrieval model", "language model",
          "vision transformer", "kernel method", "energy-based model", "neural field", "contrastive encoder"]
TASK = ["image classification", "machine translation", "object detection", "protein folding",
        "time series forecasting", "speech recognition", "question answering", "semantic segmentation",
        "molecular property prediction", "recommendation", "code generation", "anomaly detection",
        "depth estimation", "text summarization", "link prediction", "reinforcement learning",
        "domain adaptation", "few-shot learning", "continual learning", "3D reconstruction"]
DATASET = ["ImageNet", "CIFAR-100", "COCO", "WMT14", "GLUE", "SQuAD", "LibriSpeech", "MoleculeNet", "OGB",
           "Cityscapes", "ADE20K", "KITTI", "MS MARCO", "HumanEval", "Atari", "MuJoCo", "PubMed", "ScanNet",
           "ShapeNet", "Kinetics-400"]
METRIC = ["accuracy", "F1 score", "BLEU", "mean average precision", "AUC", "perplexity", "recall",
          "word error rate", "IoU", "average return"]
CONCEPT = ["attention", "regularization", "pretraining", "fine-tuning", "distillation", "quantization",
           "data augmentation", "curriculum learning", "uncertainty estimation", "representation learning",
           "optimization", "generalization", "calibration", "pruning", "tokenization", "inductive bias",
           "sample efficiency", "scaling laws", "robustness", "long-context memory"]
CATEGORIES = ["cs.LG", "cs.LG", "cs.LG", "cs.CV", "cs.CV", "cs.CL", "cs.CL", "stat.ML", "cs.AI", "cs.RO",
              "q-bio.QM", "cs.IR"]   # cs.LG most often, as on arXiv
SYLLABLES = ["ra", "to", "mi", "ke", "lu", "vo", "sa", "ne", "di", "po", "zen", "tra", "gal", "bor", "qui", "fen"]
SUFFIXES = ["", "Net", "Former", "GPT", "-2", "++", "X", "Flow", "Diff", "BERT"]
TITLES = ["{Name}: {Adj} {Method}s for {task}", "{Adj} {concept} for {task} with {Name}",
          "{Name}: Towards {adj} {concept} in {task}", "Rethinking {concept} for {adj} {task}",
          "{Name}: {Concept} Meets {Method}s", "On the {concept} of {adj} {method}s for {task}"]
SENTENCES = [
    "{Concept} remains a central challenge for {method}s in {task}.",
    "Existing approaches rely on {concept} and scale poorly with {concept2}.",
    "Our method combines {concept} with {adj} {concept2} in a single {method}.",
    "On {dataset}, {Name} improves {metric} by {num} points over strong baselines.",
    "We evaluate on {dataset} and {dataset2}, where it reaches {pct}% {metric}.",
    "Experiments show that {concept} and {concept2} are complementary for {task}.",
    "We further analyse how {concept} affects {concept2} across {int} model sizes.",
    "The approach needs {int}x less compute than a {adj} {method}.",
    "Ablations confirm that each component of {Name} contributes to the gains.",
    "Theoretical analysis shows that {adj} {concept} yields better {concept2}.",
    "Code and models for {Name} are released to support research on {task}.",
]


def _fill(template: str, rng: random.Random, name: str) -> str:
    adj, method, concept = rng.choice(ADJ), rng.choice(METHOD), rng.choice(CONCEPT)
    return template.format(
        Name=name, adj=adj, Adj=adj[0].upper() + adj[1:], method=method, Method=method.title(),
        task=rng.choice(TASK), concept=concept, Concept=concept[0].upper() + concept[1:],
        concept2=rng.choice(CONCEPT), dataset=rng.choice(DATASET), dataset2=rng.choice(DATASET),
        metric=rng.choice(METRIC), num=f"{rng.uniform(0.5, 12):.1f}", pct=f"{rng.uniform(40, 99):.1f}",
        int=rng.randint(2, 12))


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_papers(n: int, seed: int = 0) -> list[Paper]:
    """n distinct papers with 150-250-word abstracts of ML words; the same n and seed give the same papers."""
    rng = random.Random(seed)
    papers, titles = [], set()
    for i in range(n):
        while True:
            name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() + rng.choice(SUFFIXES)
            title = _fill(rng.choice(TITLES), rng, name)
            if title.lower() not in titles:
                break
        titles.add(title.lower())
        target = rng.randint(150, 230)            # each sentence has < 20 words: the total stays <= 250
        sentences = [_fill(SENTENCES[0], rng, name), f"We propose {name}, a {rng.choice(ADJ)} "
                     f"{rng.choice(METHOD)} for {rng.choice(TASK)}."]
        while sum(len(s.split()) for s in sentences) < target:
            sentences.append(_fill(rng.choice(SENTENCES[1:]), rng, name))
        year = rng.randint(2015, 2025)
        meta = random.Random(f"{seed}:{i}")       # its own stream, so titles and abstracts stay as they were
        categories = [meta.choice(CATEGORIES)] + ([meta.choice(CATEGORIES)] if meta.random() < 0.4 else [])
        day = date(year, meta.randint(1, 12), meta.randint(1, 28)).isoformat()
        authors = ", ".join(f"{meta.choice('ABCDEFGHJKLMNPRSTW')}. {_word(meta)}" for _ in range(meta.randint(1, 4)))
        papers.append(Paper(paper_id=f"synth-{i:06d}", title=title, abstract=" ".join(sentences), year=year,
                            categories=" ".join(dict.fromkeys(categories)), date=day, authors=authors))
    return papers


def arxiv_record(paper: Paper) -> dict:
    """The paper as a record of the arXiv metadata snapshot (id, title, abstract, authors, categories,
    versions, update_date)."""
    created = datetime.fromisoformat(paper.date).replace(hour=12, tzinfo=timezone.utc)
    return {"id": paper.paper_id, "submitter": None, "authors": paper.authors,
            "title": paper.title, "comments": None, "journal-ref": None, "doi": None,
            "categories": paper.categories, "license": None, "abstract": paper.abstract,
            "versions": [{"version": "v1", "created": format_datetime(created, usegmt=True)}],
            "update_date": (created + timedelta(days=len(paper.title) * 3)).date().isoformat()}


def write_arxiv_jsonl(papers: Iterable[Paper], path: Path) -> Path:
    """Write papers in the arXiv snapshot's JSON-lines format."""
    with Path(path).open("w", encoding="utf-8") as f:
        for p in papers:
            f.write(json.dumps(arxiv_record(p), ensure_ascii=False) + "\n")
    return Path(path)


def retrieval_queries(n: int = 50, seed: int = 1) -> list[str]:
    """The fixed retrieval queries: the benchmark questions, then composed topic queries."""
    rng = random.Random(seed)
    queries = [q for q, _ in QUESTIONS]
    while len(queries) < n:
        queries.append(f"{rng.choice(ADJ)} {rng.choice(METHOD)} for {rng.choice(TASK)}" if len(queries) % 2 else
                       f"{rng.choice(CONCEPT)} in {rng.choice(TASK)} on {rng.choice(DATASET)}")
    return queries[:n]


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
from rag.build import build_embedder, build_generator, open_store
from rag.retrieve import HybridRetriever
s = settings_from_env()
stamps["imports"] = time.time()
embedder = build_embedder(s)
stamps["embedder"] = time.time()
client, store = open_store(s, embedder)
HybridRetriever(store, embedder, fusion=s.fusion, passages_per_paper=s.passages_per_paper)
stamps["store_retriever"] = time.time()
build_generator(s)
stamps["generator"] = time.time()
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
    for name in ("imports", "embedder", "store_retriever", "generator"):
        steps[name + "_s"], prev = _r(stamps[name] - prev), stamps[name]
    return {"seconds": _r(stamps["generator"] - t0), "steps": steps}


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
    decode = generated / (total - first) if generated > 1 and first is not None and total > first else None
    text = " ".join(answer.answer.split()).casefold()
    return {"question": question, "answer": answer.answer, "abstained": answer.abstained,
            "correct": not answer.abstained and all(k.casefold() in text for k in keywords),
            "reached_model": called, "prompt_tokens": recorder.prompt_tokens() if called else None,
            "generated_tokens": generated, "retrieve_s": _r(t.get("retrieve_s")), "prefill_s": _r(recorder.prefill_s),
            "first_token_s": _r(first),
            "total_s": _r(total), "decode_tokens_per_s": _r(decode, 1)}


def summarize_answers(rows: Sequence[dict]) -> dict:
    """Medians over the questions that reached the model (a refusal before generation takes milliseconds)."""
    model = [r for r in rows if r["reached_model"]] or list(rows)
    return {"questions": len(rows), "reached_model": sum(r["reached_model"] for r in rows),
            "abstained": sum(r["abstained"] for r in rows), "correct": sum(r["correct"] for r in rows),
            **{k: _r(_median(r[k] for r in model), 3 if k.endswith("_s") else 1)
               for k in ("prompt_tokens", "generated_tokens", "retrieve_s", "prefill_s", "first_token_s",
                       "decode_tokens_per_s", "total_s")},
            "per_question": list(rows)}


def ratios(ours: dict, baseline: dict) -> dict:
    """ours / baseline for each answer figure."""
    out = {}
    for k in ("prompt_tokens", "prefill_s", "first_token_s", "decode_tokens_per_s", "total_s", "correct"):
        a, b = ours.get(k), baseline.get(k)
        out[k] = _r(a / b) if a is not None and b else None
    return out


# -- targets and output ----------------------------------------------------------------------------------
def bench_summary(pipeline, papers: int = 10) -> dict:
    """A cited summary over exactly `papers` papers (the cut-off opened up), timed end to end."""
    import dataclasses

    from rag.summarize import Summarizer, SummaryConfig

    config = dataclasses.replace(SummaryConfig(), min_relative=0.0, min_dense=0.0, min_support=0.0,
                                 max_papers=papers)
    t0 = time.perf_counter()
    summary = Summarizer.from_pipeline(pipeline, config=config).summarize(SUMMARY_TOPIC)
    return {"topic": SUMMARY_TOPIC, "papers": len(summary.papers), "total_s": _r(time.perf_counter() - t0),
            "citations": len(summary.citations),
            "supported": sum(c.supported for c in summary.citations), "flagged": len(summary.flagged)}


def check_targets(result: dict) -> dict:
    """Each target of the issue: value, threshold and pass (None when not measured)."""
    ours, base = result["answers"].get("ours") or {}, result["answers"].get("baseline")
    synth, n = result["retrieval"].get("synthetic"), result["settings"]["papers"]
    if not synth and result["retrieval"].get("existing"):    # --retrieval-home: a store the user built
        synth = result["retrieval"]["existing"]
        n = synth["papers"]
    ingest = [v["papers_per_s"] for v in result["ingest"].values() if v]
    values = {
        "first_token_s": ours.get("first_token_s"), "end_to_end_s": ours.get("total_s"),
        "warm_start_s": result["startup"]["warm_start"].get("seconds"),
        "retrieval_p95_ms_at_20k": synth["p95_ms"] if synth else None,
        "ingest_papers_per_s": min(ingest) if ingest else None,
        "help_s": result["startup"]["help"]["median_s"],
        "answers_vs_baseline": ours["correct"] - base["correct"] if base and ours else None,
        "summary_10_papers_s": (result.get("summary") or {}).get("total_s"),
    }
    out = {}
    for name, (op, threshold, unit) in TARGETS.items():
        v = values[name]
        passed = None if v is None else (v < threshold if op == "<" else v <= threshold if op == "<=" else v >= threshold)
        out[name] = {"value": v, "target": f"{op} {threshold:g}", "unit": unit, "pass": passed}
    if synth and n != 20000:
        out["retrieval_p95_ms_at_20k"]["note"] = f"measured at {n} papers, not 20000"
    out["ingest_papers_per_s"]["note"] = "slower of the bundled and synthetic ingests"
    return out


def _fmt(v, unit: str = "") -> str:
    if v is None:
        return "-"
    return (f"{v:.3g}" if isinstance(v, float) else str(v)) + (f" {unit}" if unit else "")


def format_table(result: dict) -> str:
    """The human report."""
    m, lines = result["machine"], []
    lines.append(f"rag bench: {m['cores']} cores, torch threads {m['torch_threads']}, precision {m['precision']}, "
                 f"load average {m['load_average']} at start, {m.get('load_average_end')} at end ({m['cpu']})")
    st = result["startup"]
    lines.append("\nstartup")
    lines.append(f"  rag --help                {_fmt(st['help']['median_s'], 's')}")
    for label, run in (("warm start (cached model)", st["warm_start"]), ("first run (convert model)", st["first_run"])):
        if run is None:
            lines.append(f"  {label} skipped (run with --cold-convert)")
            continue
        steps = ", ".join(f"{k[:-2]} {v:.1f}" for k, v in (run.get("steps") or {}).items())
        lines.append(f"  {label} {_fmt(run.get('seconds'), 's')}  ({steps or run.get('error', '')})")
    lines.append("\ningest")
    for name, v in result["ingest"].items():
        if v:
            lines.append(f"  {name:<10} {v['papers']:>6} papers  {v['seconds']:>8.1f} s  {v['papers_per_s']:>7.1f} papers/s")
    lines.append("\nretrieval (HybridRetriever.retrieve)")
    for name, v in result["retrieval"].items():
        if v:
            lines.append(f"  {name:<10} {v['papers']:>6} papers  p50 {v['p50_ms']:>6.1f} ms  p95 {v['p95_ms']:>6.1f} ms"
                         f"  (index built in {v['index_build_s']:.1f} s)")
    a = result["answers"]
    lines.append(f"\nanswers (medians over questions that reached the model)   ours"
                 + ("      baseline  ours/baseline" if a.get("baseline") else ""))
    for key, label in (("prompt_tokens", "prompt tokens"), ("prefill_s", "model prefill, asked to first piece (s)"),
                       ("first_token_s", "first token, from the question (s)"),
                       ("decode_tokens_per_s", "decode tokens/s"), ("total_s", "end to end (s)"),
                       ("correct", "correct answers"), ("abstained", "abstained")):
        row = f"  {label:<56} {_fmt(a['ours'][key]):>6}"
        if a.get("baseline"):
            row += f"  {_fmt(a['baseline'][key]):>10}  {_fmt(a['ratio_ours_over_baseline'].get(key)):>10}"
        lines.append(row)
    if result.get("summary"):
        sm = result["summary"]
        lines.append(f"\nsummary of {sm['topic']!r} over {sm['papers']} papers: {_fmt(sm['total_s'], 's')}, "
                     f"{sm['supported']}/{sm['citations']} citations supported, {sm['flagged']} sentences flagged")
    lines.append("\ntargets")
    for name, t in result["targets"].items():
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[t["pass"]]
        note = f"  ({t['note']})" if t.get("note") else ""
        lines.append(f"  {name:<26} {_fmt(t['value']):>8}  {t['target']:<7} {t['unit']:<10} {verdict}{note}")
    return "\n".join(lines)


def machine_info(generator) -> dict:
    from rag.generate import cpu_count

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


def _say(msg: str) -> None:
    print(f"bench: {msg}", file=sys.stderr, flush=True)


# -- the command -----------------------------------------------------------------------------------------
def main_bench(args, *, settings=None) -> int:
    """Run every measurement and print the table (or one JSON object with --json)."""
    from rag.build import Parts, build_embedder, build_generator, build_pipeline
    from rag.corpus import bundled_corpus
    from rag.settings import settings_from_env

    settings = settings or settings_from_env()
    n_papers, n_questions = getattr(args, "papers", 20000), getattr(args, "questions", 10)
    skip_baseline, cold_convert = getattr(args, "skip_baseline", False), getattr(args, "cold_convert", False)
    load_avg = os.getloadavg()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="rag-bench-"))
    result: dict = {"settings": {"papers": n_papers, "questions": min(n_questions, len(QUESTIONS)),
                                 "skip_baseline": skip_baseline, "cold_convert": cold_convert,
                                 "models_dir": str(settings.models_dir)},
                    "startup": {}, "ingest": {}, "retrieval": {}, "answers": {}}
    try:
        _say("timing rag --help")
        result["startup"]["help"] = help_time()
        embedder = build_embedder(settings)
        queries = retrieval_queries()
        bundled_home = tmp / "bundled"
        _say("ingesting the bundled corpus into a temporary store")
        result["ingest"]["bundled"], store = bench_ingest(bundled_corpus(), bundled_home / "chroma", embedder,
                                                          collection=settings.collection)
        kw = {"fusion": settings.fusion, "passages_per_paper": settings.passages_per_paper}
        result["retrieval"]["bundled"] = bench_retrieval(store, embedder, queries, **kw)
        result["ingest"]["synthetic"] = result["retrieval"]["synthetic"] = None
        home = getattr(args, "retrieval_home", None)
        if home:
            from rag.build import open_store
            from dataclasses import replace as _replace

            if not (Path(home) / "chroma").is_dir():
                from rag.errors import RagError
                raise RagError(f"{home}: no store there (expected {Path(home) / 'chroma'})")
            _say(f"timing retrieval on the existing store under {home}")
            _, existing = open_store(_replace(settings, home=Path(home), chroma_url=""), embedder)
            result["retrieval"]["existing"] = bench_retrieval(existing, embedder, queries, **kw)
            del existing
        if n_papers > 0:
            _say(f"ingesting {n_papers} synthetic abstracts into a temporary store")
            source = write_arxiv_jsonl(synthetic_papers(n_papers), tmp / "synthetic-arxiv.jsonl")
            result["ingest"]["synthetic"], synth = bench_ingest(source, tmp / "synthetic", embedder)
            result["retrieval"]["synthetic"] = bench_retrieval(synth, embedder, queries, **kw)
            del synth

        _say("loading the generator (converted once into the models cache if needed)")
        generator = build_generator(settings)
        env = {**os.environ, "RAG_HOME": str(bundled_home), "RAG_MODELS_DIR": str(Path(settings.models_dir).resolve()),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        _say("timing a warm start in a fresh process")
        result["startup"]["warm_start"] = time_to_ready(env, timeout=600)
        result["startup"]["first_run"] = None
        if cold_convert:
            _say("timing a first run with an empty models cache (assembles and converts the model)")
            result["startup"]["first_run"] = time_to_ready({**env, "RAG_MODELS_DIR": str(tmp / "cold-models")})
            shutil.rmtree(tmp / "cold-models", ignore_errors=True)

        recorder = RecordingGenerator(generator)
        client = getattr(store, "client", None)
        ours = build_pipeline(settings, parts=Parts(settings, embedder, store, client), generator=recorder)
        baseline = None
        if not skip_baseline:
            from rag.baseline import BaselinePipeline
            from rag.citations import SupportChecker

            baseline = BaselinePipeline(store, embedder, recorder, checker=SupportChecker(embedder),
                                        max_new_tokens=settings.max_new_tokens)
        for _ in generator.stream([{"role": "user", "content": "Hello"}], max_new_tokens=2):
            pass                                   # warm-up: first-call costs are not an answer's
        rows: dict[str, list] = {"ours": [], "baseline": []}
        for i, (question, keywords) in enumerate(QUESTIONS[:n_questions], 1):
            _say(f"question {i}/{min(n_questions, len(QUESTIONS))}: {question}")
            rows["ours"].append(measure_answer(ours.ask, recorder, question, keywords))
            if baseline:                            # interleaved, so both see the same machine load
                rows["baseline"].append(measure_answer(baseline.ask, recorder, question, keywords))
        result["answers"]["ours"] = summarize_answers(rows["ours"])
        result["answers"]["baseline"] = summarize_answers(rows["baseline"]) if baseline else None
        result["answers"]["ratio_ours_over_baseline"] = (ratios(result["answers"]["ours"], result["answers"]["baseline"])
                                                         if baseline else None)
        if not getattr(args, "skip_summary", False):
            _say(f"summarizing {SUMMARY_TOPIC!r} over 10 papers")
            result["summary"] = bench_summary(ours)
        result["machine"] = {**machine_info(generator), "load_average": [round(x, 2) for x in load_avg],
                             "load_average_end": [round(x, 2) for x in os.getloadavg()]}
        result["targets"] = check_targets(result)
        result["wall_s"] = _r(time.perf_counter() - started, 1)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(result, ensure_ascii=False) if getattr(args, "json", False) else format_table(result))
    return 0
