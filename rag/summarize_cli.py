"""`rag summarize "TOPIC" [--json]`: progress on stderr, the summary and its paper table on stdout."""
from __future__ import annotations

import json
import sys
import textwrap

from rag.summarize import Summary, trim_words


def stderr_progress(message: str, done: int, total: int) -> None:
    """One line per step on stderr ("reading 7 of 12 papers…"); on a terminal the line is rewritten."""
    tty = sys.stderr.isatty()
    end = "" if tty else "\n"
    print(f"\r\033[K{message}…" if tty else f"{message}…", end=end, file=sys.stderr, flush=True)


def render(summary: Summary, width: int = 100) -> str:
    """The human-readable summary: paragraphs, the per-paper table, the papers left out."""
    wrap = lambda text, indent="": textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent)
    lines = []
    if summary.abstained:
        lines.append(summary.answer)
        if summary.left_out:
            lines += ["", "Closest papers (below the relevance cut-off):"]
            lines += [f"  - {h.paper.title} (score {h.score:.2f})" for h in summary.left_out]
        return "\n".join(lines)
    n = len(summary.papers)
    lines += [f"Summary of {n} paper{'s' * (n != 1)} on \"{summary.query}\"", ""]
    for paragraph in summary.answer.split("\n\n"):
        lines += [wrap(paragraph), ""]
    supported = {c.marker: c.supported for c in summary.citations}
    lines.append("Papers")
    for p in summary.papers:
        mark = {True: "", False: "  (a sentence citing it is NOT supported)", None: "  (not cited)"}[
            supported.get(p.marker)]
        lines.append(wrap(f"[{p.marker}] {p.hit.paper.title}{mark}", ""))
        lines.append(wrap(f"contribution: {trim_words(p.contribution, summary.contribution_words)}", "      "))
        lines.append(wrap(f"quote: \"{' '.join(p.quotes)}\"", "      "))
    if summary.flagged:
        lines += ["", f"{len(summary.flagged)} sentence(s) marked (unverified): no paper's text backs them."]
    if summary.left_out:
        lines += ["", "Left out (just below the relevance cut-off):"]
        lines += [f"  - {h.paper.title} (score {h.score:.2f}" + (f", cosine {h.dense:.2f})" if h.dense else ", keyword match)")
                  for h in summary.left_out]
    return "\n".join(lines)


def main_summarize(args) -> int:
    """Run `rag summarize` with args.topic and args.json."""
    from rag.build import build_pipeline
    from rag.pipeline import check_question
    from rag.settings import settings_from_env

    settings = settings_from_env()
    check_question(args.topic, settings.max_question_chars)   # before any model loads
    pipeline = build_pipeline(settings, progress=not args.json)
    summary = pipeline.summarize(args.topic, on_progress=stderr_progress, where=getattr(args, "where", None))
    if sys.stderr.isatty():
        print(file=sys.stderr)
    if args.json:
        where = getattr(args, "where", None)
        print(json.dumps({**summary.to_json(), **({"filter": where} if where else {})}, ensure_ascii=False))
        return 0
    print(render(summary))
    t = summary.timings
    print(f"\n({t.get('total_s', 0):.1f} s: retrieval {t.get('retrieve_s', 0):.1f} s, "
          f"writing {t.get('generate_s', 0):.1f} s)", file=sys.stderr)
    return 0
