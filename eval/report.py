"""report.md, PNG charts, and the ours-vs-baseline comparison, from summary dicts and result rows."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

SHARE_KEYS = ("recall_at_5", "mrr", "citation_precision", "citation_recall", "keyword_accuracy",
              "abstention_precision", "abstention_recall", "supported_rate", "answerable_refusal_rate",
              "cited_sentence_rate", "route_accuracy")
TIME_KEYS = ("latency_p50_s", "latency_p95_s", "first_token_p50_s", "first_sentence_p50_s")
LABELS = {
    "n": "questions", "recall_at_5": "recall@5", "mrr": "MRR", "citation_precision": "citation precision",
    "citation_recall": "citation recall", "keyword_accuracy": "keyword accuracy",
    "abstention_precision": "abstention precision", "abstention_recall": "abstention recall",
    "supported_rate": "supported citations", "latency_p50_s": "latency p50", "latency_p95_s": "latency p95",
    "first_token_p50_s": "first token p50", "answerable_refusal_rate": "refused answerable", "errors": "errors",
    "cited_sentence_rate": "sentences with a citation", "route_accuracy": "routed as its type",
    "first_sentence_p50_s": "first checked sentence p50", "first_person_sentences": "sentences in first person",
    "echo_sentences": "sentences restating the question",
}
HEADLINE = ("n", *SHARE_KEYS, *TIME_KEYS, "first_person_sentences", "echo_sentences", "errors")
PER_TYPE = ("n", "recall_at_5", "mrr", "citation_precision", "citation_recall", "keyword_accuracy",
            "abstention_recall", "supported_rate", "cited_sentence_rate", "answerable_refusal_rate", "route_accuracy",
            "first_person_sentences", "echo_sentences", "latency_p50_s")
CHART_KEYS = ("recall_at_5", "citation_precision", "citation_recall", "keyword_accuracy", "supported_rate",
              "abstention_recall")


def fmt(key: str, value) -> str:
    """A metric for a table cell: shares as percentages, times in seconds, missing as an en dash."""
    if value is None:
        return "–"
    if key in SHARE_KEYS:
        return f"{100 * value:.0f}%" if key != "mrr" else f"{value:.2f}"
    if key in TIME_KEYS:
        return f"{value:.1f} s"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows]
    return lines


def _short(text: str, n: int = 90) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def failures(rows: Sequence[dict]) -> dict[str, list[str]]:
    """Markdown bullet lines, grouped by kind of failure, each naming the question id."""
    out: dict[str, list[str]] = {"Errors": [], "Missed gold papers (not in the first 5 sources)": [],
                                 "Wrong refusals (answerable, abstained)": [],
                                 "Missed refusals (unanswerable, answered)": [],
                                 "Wrong answers (answered, a keyword missing)": [], "Unsupported citations": []}
    for r in rows:
        s, qid = r.get("scores") or {}, r["id"]
        if r.get("error"):
            out["Errors"].append(f"- `{qid}` ({r['type']}): {_short(r['error'], 160)}")
        if s.get("missing_gold") and not r.get("error"):
            missing = "; ".join(_short(t, 70) for t in s["missing_gold"])
            out["Missed gold papers (not in the first 5 sources)"].append(
                f"- `{qid}` ({r['type']}, recall@5 {fmt('recall_at_5', s.get('recall_at_5'))}): {missing}")
        if s.get("refused_answerable"):
            out["Wrong refusals (answerable, abstained)"].append(f"- `{qid}` ({r['type']}): {_short(r['question'])}")
        if s.get("missed_refusal") and not r.get("error"):
            out["Missed refusals (unanswerable, answered)"].append(
                f"- `{qid}`: {_short(r['question'], 70)} → “{_short(r.get('answer', ''), 110)}”")
        if s.get("keyword_hit") == 0.0 and not r.get("abstained") and not r.get("error"):
            out["Wrong answers (answered, a keyword missing)"].append(
                f"- `{qid}` ({r['type']}): wanted {', '.join(r.get('answer_keywords') or [])} → "
                f"“{_short(r.get('answer', ''), 110)}”")
        bad = [c for c in r.get("citations") or [] if not c.get("supported")]
        if bad:
            cites = "; ".join(f"[{c.get('marker')}] {_short(c.get('title') or '(no such source)', 60)}" for c in bad)
            out["Unsupported citations"].append(f"- `{qid}` ({r['type']}): {cites}")
    return out


def markdown_report(summary: dict, rows: Sequence[dict], *, title: str = "", charts: Sequence[str] = ()) -> str:
    """The readable report: headline table, per-type table, charts, failures by kind."""
    lines = [f"# Evaluation{': ' + title if title else ''}", ""]
    model = summary.get("model") or {}
    if model:
        lines += [", ".join(f"{k}: `{v}`" for k, v in model.items()), ""]
    lines += ["How things count: answerable-only metrics leave out `unanswerable` questions; an answerable "
              "question the pipeline refused scores 0 keyword accuracy and 0 citation recall; shares of "
              "questions are means over questions, `supported citations` pools every citation; "
              "`–` means no data.", ""]
    lines += ["## Headline", ""]
    lines += _table(["metric", "value"], [[LABELS[k], fmt(k, summary.get(k))] for k in HEADLINE])
    lines += ["", "## By question type", ""]
    by_type = summary.get("by_type") or {}
    lines += _table(["type", *(LABELS[k] for k in PER_TYPE)],
                    [[t, *(fmt(k, m.get(k)) for k in PER_TYPE)] for t, m in by_type.items()])
    retrieval = summary.get("retrieval")
    if retrieval:
        lines += ["", "## Retrieval only (no generation)", ""] + retrieval_table(retrieval)
    if charts:
        lines += ["", "## Charts", ""] + [f"![{Path(c).stem}]({Path(c).name})" for c in charts]
    lines += ["", "## Failures", ""]
    for kind, items in failures(rows).items():
        lines += [f"### {kind} ({len(items)})", ""] + (items or ["none"]) + [""]
    return "\n".join(lines).rstrip() + "\n"


def retrieval_table(retrieval: dict) -> list[str]:
    """recall@5 and MRR of each ranking (dense, bm25, hybrid) over the answerable questions."""
    names = [k for k in ("dense", "bm25", "hybrid") if k in retrieval]
    return _table(["ranking", "questions", "recall@5", "MRR"],
                  [[k, retrieval[k].get("n", "–"), fmt("recall_at_5", retrieval[k].get("recall_at_5")),
                    fmt("mrr", retrieval[k].get("mrr"))] for k in names])


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def chart_per_type(summary: dict, path: Path) -> Path:
    """Grouped bars: the main scores of each question type."""
    plt = _pyplot()
    by_type = summary.get("by_type") or {}
    types = list(by_type)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(types) + 2), 4.2))
    width = 0.8 / len(CHART_KEYS)
    for i, key in enumerate(CHART_KEYS):
        values = [by_type[t].get(key) for t in types]
        xs = [j + (i - (len(CHART_KEYS) - 1) / 2) * width for j in range(len(types))]
        ax.bar([x for x, v in zip(xs, values) if v is not None], [v for v in values if v is not None],
               width=width, label=LABELS[key])
    ax.set_xticks(range(len(types)), [f"{t}\n(n={by_type[t]['n']})" for t in types])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("share")
    ax.set_title("Scores by question type")
    ax.legend(fontsize=7, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def chart_latency(rows: Sequence[dict], path: Path) -> Path:
    """Histogram of total answer time and time to first token."""
    plt = _pyplot()
    ok = [r for r in rows if not r.get("error")]
    total = [r["timings"]["total_s"] for r in ok if "total_s" in (r.get("timings") or {})]
    first = [r["timings"]["first_token_s"] for r in ok if "first_token_s" in (r.get("timings") or {})]
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    if total:
        bins = min(30, max(5, len(total) // 3))
        ax.hist(total, bins=bins, alpha=0.7, label="total")
        if first:
            ax.hist(first, bins=bins, alpha=0.7, label="first token")
        ax.legend()
    else:
        ax.text(0.5, 0.5, "no timings", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    ax.set_title("Answer latency")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_report(summary: dict, rows: Sequence[dict], out_dir: str | Path, *, title: str = "") -> list[Path]:
    """Write per_type.png, latency.png and report.md into out_dir; return their paths."""
    out_dir = Path(out_dir)
    charts = [chart_per_type(summary, out_dir / "per_type.png"), chart_latency(rows, out_dir / "latency.png")]
    report = out_dir / "report.md"
    report.write_text(markdown_report(summary, rows, title=title, charts=charts), encoding="utf-8")
    return [report, *charts]


def comparison_markdown(ours: dict, baseline: dict, retrieval: dict | None = None, *,
                        names: tuple[str, str] = ("ours", "baseline")) -> str:
    """Ours vs the baseline side by side, overall and per type, plus recall@5 of each ranking."""
    lines = [f"# {names[0]} vs {names[1]}", ""]
    for name, s in zip(names, (ours, baseline)):
        model = s.get("model") or {}
        if model:
            lines.append(f"- {name}: " + ", ".join(f"{k} `{v}`" for k, v in model.items()))
    lines += ["", "## Overall", ""]
    lines += _table(["metric", names[0], names[1]],
                    [[LABELS[k], fmt(k, ours.get(k)), fmt(k, baseline.get(k))] for k in HEADLINE])
    lines += ["", "## By question type", ""]
    keys = ("recall_at_5", "citation_precision", "citation_recall", "keyword_accuracy", "abstention_recall",
            "supported_rate")
    rows = []
    types = list(dict.fromkeys([*(ours.get("by_type") or {}), *(baseline.get("by_type") or {})]))
    for t in types:
        a, b = (ours.get("by_type") or {}).get(t, {}), (baseline.get("by_type") or {}).get(t, {})
        rows.append([t, str(a.get("n", b.get("n", "–"))),
                     *(f"{fmt(k, a.get(k))} / {fmt(k, b.get(k))}" for k in keys)])
    lines += [f"Each cell: {names[0]} / {names[1]}.", ""]
    lines += _table(["type", "n", *(LABELS[k] for k in keys)], rows)
    if retrieval:
        lines += ["", "## Retrieval only: recall@5 of each ranking (answerable questions, no generation)", ""]
        lines += retrieval_table(retrieval)
    return "\n".join(lines).rstrip() + "\n"


def write_comparison(ours: dict, baseline: dict, retrieval: dict | None, path: str | Path, *,
                     names: tuple[str, str] = ("ours", "baseline")) -> Path:
    """Write the side-by-side comparison markdown to `path`."""
    path = Path(path)
    path.write_text(comparison_markdown(ours, baseline, retrieval, names=names), encoding="utf-8")
    return path
