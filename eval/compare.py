"""Side-by-side figures of several `rag eval` runs, per question type, as a Markdown table.

    python -m eval.compare tuning=eval/runs/dev test=eval/runs/test plain=eval/runs/test-baseline

Each argument is NAME=DIR (a run's --out folder). The figures are recomputed from DIR/results.jsonl with
eval.metrics, so runs written by older versions are scored alike.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from eval.metrics import summarize
from eval.report import fmt

ROWS = [("keyword_accuracy", "answers with every keyword", None),
        ("citation_precision", "cited papers that are gold", None),
        ("citation_recall", "gold papers cited", None),
        ("answerable_refusal_rate", "answerable refused", None),
        ("abstention_recall", "unanswerable refused", "unanswerable"),
        ("route_accuracy", "routed as its type", None),
        ("first_person_sentences", "sentences in first person", None),
        ("echo_sentences", "sentences restating the question", None),
        ("latency_p50_s", "answer time p50", None),
        ("first_sentence_p50_s", "first checked sentence p50", None)]


def load(folder: str | Path) -> dict:
    rows = [json.loads(line) for line in (Path(folder) / "results.jsonl").read_text().splitlines() if line.strip()]
    return summarize(rows)


def table(runs: dict[str, dict]) -> str:
    """One row per (type, figure) that any run has; one column per run."""
    types = []
    for s in runs.values():
        types += [t for t in s["by_type"] if t not in types]
    lines = ["| type (n) | figure | " + " | ".join(runs) + " |", "| --- | --- |" + " --- |" * len(runs)]
    for t in types + ["all"]:
        groups = {name: (s if t == "all" else s["by_type"].get(t, {})) for name, s in runs.items()}
        n = "/".join(str(g.get("n", "–")) for g in groups.values())
        for key, label, only in ROWS:
            if only and t not in (only, "all"):
                continue
            if t == "unanswerable" and key not in ("abstention_recall", "latency_p50_s"):
                continue        # no gold papers or keywords: only whether it was refused, and how fast
            values = [g.get(key) for g in groups.values()]
            if all(v is None for v in values):
                continue
            lines.append(f"| {t} ({n}) | {label} | " + " | ".join(fmt(key, v) for v in values) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.compare", description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+", metavar="NAME=DIR")
    args = p.parse_args(argv)
    runs = {}
    for item in args.runs:
        name, _, folder = item.partition("=")
        runs[name] = load(folder or name)
    print(table(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
