"""`rag bench` output: each figure against its target, as a table or JSON."""
from __future__ import annotations

# The targets of the speed issue: name -> (comparison, threshold, unit).
TARGETS = {
    "first_token_s": ("<=", 1.0, "s"),
    "first_sentence_s": ("<=", 2.0, "s"),
    "end_to_end_s": ("<=", 3.0, "s"),
    "end_to_end_vs_baseline": ("<=", 0.4, "ours / baseline"),
    "decode_tokens_per_s": (">=", 25.0, "tokens/s"),
    "multi_paper_s": ("<=", 10.0, "s"),
    "warm_start_s": ("<=", 3.0, "s"),
    "load_p95_wait_s": ("<=", 20.0, "s"),
    "retrieval_p95_ms_at_20k": ("<=", 50.0, "ms"),
    "ingest_papers_per_s": (">=", 20.0, "papers/s"),
    "help_s": ("<", 1.0, "s"),
    "answers_vs_baseline": (">=", 0, "correct answers, ours - baseline"),
    "summary_10_papers_s": ("<=", 30.0, "s"),
}


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
        "first_sentence_s": ours.get("first_sentence_s"), "decode_tokens_per_s": ours.get("decode_tokens_per_s"),
        "end_to_end_vs_baseline": (result["answers"].get("ratio_ours_over_baseline") or {}).get("total_s"),
        "multi_paper_s": ((result.get("multi") or {}).get("ours") or {}).get("total_s"),
        "load_p95_wait_s": (result.get("load") or {}).get("wait_p95_s"),
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
    for key, title in (("answers", "single-paper answers"), ("multi", "multi-paper answers")):
        if result.get(key):
            lines += _answer_rows(result[key], title)
    if result.get("summary"):
        sm = result["summary"]
        lines.append(f"\nsummary of {sm['topic']!r} over {sm['papers']} papers: {_fmt(sm['total_s'], 's')}, "
                     f"{sm['supported']}/{sm['citations']} citations supported, {sm['flagged']} sentences flagged"
                     + (f"; baseline {_fmt(sm['baseline_total_s'], 's')}, ratio {_fmt(sm['ratio_ours_over_baseline'])}"
                        if sm.get("baseline_total_s") else ""))
    if result.get("load"):
        ld = result["load"]
        lines.append(f"\nload test: {ld['sessions']} sessions, {ld['answers_ok']}/{ld['answers']} answers ok, wait p50 "
                     f"{_fmt(ld['wait_p50_s'], 's')}, p95 {_fmt(ld['wait_p95_s'], 's')}, peak {ld['rss_peak_mb']} MB")
    lines.append("\ntargets")
    for name, t in result["targets"].items():
        verdict = {True: "PASS", False: "FAIL", None: "not measured"}[t["pass"]]
        note = f"  ({t['note']})" if t.get("note") else ""
        lines.append(f"  {name:<26} {_fmt(t['value']):>8}  {t['target']:<7} {t['unit']:<10} {verdict}{note}")
    return "\n".join(lines)


def _answer_rows(a: dict, title: str) -> list[str]:
    lines = [f"\n{title} (medians over questions that reached the model)   ours"
             + ("      baseline  ours/baseline" if a.get("baseline") else "")]
    for key, label in (("prompt_tokens", "prompt tokens"), ("prefill_s", "model prefill, asked to first piece (s)"),
                       ("first_token_s", "first token, from the question (s)"),
                       ("first_sentence_s", "first checked sentence shown (s)"),
                       ("decode_tokens_per_s", "decode tokens/s"), ("total_s", "end to end (s)"),
                       ("correct", "correct answers"), ("abstained", "abstained")):
        row = f"  {label:<56} {_fmt(a['ours'].get(key)):>6}"
        if a.get("baseline"):
            row += f"  {_fmt(a['baseline'].get(key)):>10}  {_fmt(a['ratio_ours_over_baseline'].get(key)):>10}"
        lines.append(row)
    return lines
