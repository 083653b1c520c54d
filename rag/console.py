"""Terminal output: an answer with its cited papers, a summary with its paper table, progress on stderr."""
from __future__ import annotations

import sys
import textwrap

from rag.text import trim_words
from rag.types import Answer, Summary


def stderr_progress(message: str, done: int, total: int) -> None:
    """One line per step on stderr ("reading 7 of 12 papers…"); on a terminal the line is rewritten."""
    tty = sys.stderr.isatty()
    end = "" if tty else "\n"
    print(f"\r\033[K{message}…" if tty else f"{message}…", end=end, file=sys.stderr, flush=True)


def render_summary(summary: Summary, width: int = 100) -> str:
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


def print_answer(answer: Answer, streamed: str) -> None:
    """After the streamed (already checked) text: why it refused and the closest papers, or the cited papers with
    the sentence of each that backs the answer; then the timings on stderr."""
    if answer.answer.strip() != streamed.strip():       # never: what streamed is what was checked
        print(f"\n\nAnswer: {answer.answer}")
    print()
    if answer.abstained:
        if answer.abstain_reason:
            print(f"\n(reason: {answer.abstain_reason.value.replace('_', ' ')}"
                  + (f"; not mentioned by any paper: {', '.join(answer.missing_terms)}" if answer.missing_terms else "")
                  + ")")
        if answer.related:
            print("\nClosest papers (they do not answer the question):")
            for h in answer.related:
                print(f"  - {h.paper.title}")
    elif answer.citations:
        print(f"\nCited papers ({answer.route} answer):")
        for c in answer.citations:
            mark = "supported" if c.supported else "NOT supported by the paper's text"
            print(f"  [{c.marker}] {c.title} ({mark})")
            if c.quote:
                print(f"      \"{c.quote}\"")
        left_out = getattr(answer, "left_out", [])
        if left_out:
            print("\nJust below the relevance cut-off: " + "; ".join(h.paper.title for h in left_out))
    t = answer.timings
    print(f"\n({t.get('total_s', 0):.1f} s; first token {t.get('first_token_s', 0):.1f} s, first checked sentence "
          f"{t.get('first_sentence_s', 0):.1f} s)", file=sys.stderr)


def print_summary(summary: Summary) -> None:
    """The summary on stdout, its timings on stderr."""
    if sys.stderr.isatty():
        print(file=sys.stderr)
    print(render_summary(summary))
    t = summary.timings
    print(f"\n({t.get('total_s', 0):.1f} s: retrieval {t.get('retrieve_s', 0):.1f} s, "
          f"writing {t.get('generate_s', 0):.1f} s)", file=sys.stderr)
