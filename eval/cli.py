"""`rag eval`: run a question set through our pipeline, the LlamaIndex baseline, or both."""
from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

from eval.harness import load_questions, run_eval, select
from eval.metrics import mean, recall_at_k, reciprocal_rank
from eval.report import write_comparison

RANKINGS = {"dense": ("dense",), "bm25": ("bm25",), "hybrid": ("dense", "bm25")}


def retrieval_recall(retriever, questions: Sequence[dict], *, k: int = 5) -> dict:
    """recall@k and MRR of the dense, BM25 and fused rankings over the answerable questions (no generation).

    Returns {"dense"|"bm25"|"hybrid": {"n", "recall_at_5", "mrr", "by_type": {type: recall_at_5}}}.
    Follow-ups are retrieved with the same standalone query our pipeline builds.
    """
    from rag.condense import standalone_query

    answerable = [q for q in questions if q["type"] != "unanswerable" and q["gold_titles"]]
    out: dict[str, dict] = {}
    for name, rankings in RANKINGS.items():
        recalls, rrs, by_type = [], [], {}
        for q in answerable:
            query = standalone_query(q["question"], q.get("history") or [])
            titles = [h.paper.title for h in retriever.retrieve(query, max(k, 10), rankings=rankings)]
            r = recall_at_k(titles, q["gold_titles"], k)
            recalls.append(r)
            rrs.append(reciprocal_rank(titles, q["gold_titles"]))
            by_type.setdefault(q["type"], []).append(r)
        out[name] = {"n": len(answerable), "recall_at_5": _r(mean(recalls)), "mrr": _r(mean(rrs)),
                     "by_type": {t: _r(mean(v)) for t, v in by_type.items()}}
    return out


def _r(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def _types(value) -> list[str] | None:
    if not value:
        return None
    if isinstance(value, str):
        value = value.split(",")
    return [t.strip() for t in value if t.strip()] or None


def headline(name: str, s: dict) -> str:
    """One line of the numbers that matter most."""
    def pct(key):
        v = s.get(key)
        return "–" if v is None else f"{100 * v:.0f}%"

    def sec(key):
        v = s.get(key)
        return "–" if v is None else f"{v:.1f}s"

    return (f"{name:<9} n={s['n']:<3} recall@5 {pct('recall_at_5')}  cite P {pct('citation_precision')} "
            f"R {pct('citation_recall')}  keywords {pct('keyword_accuracy')}  refusals P "
            f"{pct('abstention_precision')} R {pct('abstention_recall')}  refused answerable "
            f"{pct('answerable_refusal_rate')}  supported {pct('supported_rate')}  routed {pct('route_accuracy')}  "
            f"first person {s.get('first_person_sentences', 0)}  echoes {s.get('echo_sentences', 0)}  p50 "
            f"{sec('latency_p50_s')}  first token {sec('first_token_p50_s')}  first sentence "
            f"{sec('first_sentence_p50_s')}  errors {s.get('errors', 0)}")


def main_eval(args, *, settings=None, parts=None, generator=None) -> int:
    """Run `rag eval` with args.questions, .out, .limit, .types, .pipeline; parts and generator are built unless given."""
    from eval.baseline import BaselinePipeline
    from rag.answer.citations import SupportChecker
    from rag.build import build_generator, build_parts, build_pipeline
    from rag.settings import settings_from_env

    questions = load_questions(args.questions)
    which = getattr(args, "pipeline", None) or "ours"
    limit, types = getattr(args, "limit", None), _types(getattr(args, "types", None))
    chosen = select(questions, limit=limit, types=types)
    out = Path(getattr(args, "out", None) or Path("eval") / "runs" / time.strftime("%Y%m%d-%H%M%S"))
    out.mkdir(parents=True, exist_ok=True)

    settings = settings or settings_from_env()
    parts = parts or build_parts(settings)
    generator = generator or build_generator(settings)      # one model, shared by both pipelines
    ours = build_pipeline(settings, parts=parts, generator=generator)

    print(f"retrieval-only recall@5 over {sum(q['type'] != 'unanswerable' for q in chosen)} answerable "
          "questions (dense, bm25, hybrid)…", file=sys.stderr)
    retrieval = retrieval_recall(ours.retriever, chosen)
    extra = {"retrieval": retrieval, "questions_file": str(args.questions)}

    summaries: dict[str, dict] = {}
    if which in ("ours", "both"):
        summarize = getattr(ours, "summarize", None)
        summaries["ours"] = run_eval(
            lambda q, h: ours.ask(q, history=h), chosen, out / "ours" if which == "both" else out,
            summarize=(lambda topic: summarize(topic)) if callable(summarize) else None,
            label="ours", extra=extra)
    if which in ("baseline", "both"):
        baseline = BaselinePipeline(parts.store, parts.embedder, generator, checker=SupportChecker(parts.embedder, settings.support),
                                    top_k=settings.top_k, max_new_tokens=settings.max_new_tokens)
        summaries["baseline"] = run_eval(
            lambda q, h: baseline.ask(q, history=h), chosen, out / "baseline" if which == "both" else out,
            label="baseline", extra=extra)
    if which == "both":
        write_comparison(summaries["ours"], summaries["baseline"], retrieval, out / "comparison.md")

    print()
    for name, s in summaries.items():
        print(headline(name, s))
    print("retrieval recall@5: " + ", ".join(f"{k} {100 * v['recall_at_5']:.0f}%" for k, v in retrieval.items()
                                             if v["recall_at_5"] is not None))
    print(f"results in {out}" + (" (comparison.md, ours/, baseline/)" if which == "both" else ""))
    return 0


if __name__ == "__main__":   # python -m eval.cli --questions ... (same flags as `rag eval`)
    import argparse

    p = argparse.ArgumentParser(prog="python -m eval.cli")
    p.add_argument("--questions", required=True)
    p.add_argument("--out")
    p.add_argument("--limit", type=int)
    p.add_argument("--types")
    p.add_argument("--pipeline", choices=["ours", "baseline", "both"], default="ours")
    from rag.errors import RagError
    from rag.settings import set_offline_env

    set_offline_env()
    try:
        sys.exit(main_eval(p.parse_args()))
    except RagError as e:
        print(f"rag eval: error: {e}", file=sys.stderr)
        sys.exit(1)
