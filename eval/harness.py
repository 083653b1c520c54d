"""Run a question set through an `ask` function and write results.jsonl, summary.json, report.md and charts.

results.jsonl is appended one line per question as it is answered, so a killed run loses at most the
question in flight, and re-running into the same folder resumes: ids already there are skipped.
"""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Callable, Iterable, Sequence

from eval.metrics import TYPES, score_row, summarize as summarize_rows
from rag.errors import RagError
from rag.types import Answer, Message

REQUIRED = {"id": str, "type": str, "question": str, "gold_titles": list, "answer_keywords": list}

AskFn = Callable[[str, list[Message]], Answer]       # (question, history) -> Answer
SummarizeFn = Callable[[str], Answer]                 # topic -> Answer


def _check_question(q: object, where: str, seen: set[str]) -> dict:
    """The question object, or a RagError naming the line and the problem."""
    if not isinstance(q, dict):
        raise RagError(f"{where}: expected a JSON object, got {type(q).__name__}")
    for key, kind in REQUIRED.items():
        if key not in q:
            raise RagError(f"{where}: missing key {key!r} (need {', '.join(REQUIRED)})")
        if not isinstance(q[key], kind):
            raise RagError(f"{where}: {key!r} must be a {kind.__name__}, got {type(q[key]).__name__}")
    if not q["id"].strip():
        raise RagError(f"{where}: 'id' is empty")
    if q["id"] in seen:
        raise RagError(f"{where}: duplicate id {q['id']!r}")
    if q["type"] not in TYPES:
        raise RagError(f"{where}: unknown type {q['type']!r} (one of {', '.join(TYPES)})")
    if not q["question"].strip():
        raise RagError(f"{where}: 'question' is empty")
    for key in ("gold_titles", "answer_keywords"):
        if not all(isinstance(x, str) and x.strip() for x in q[key]):
            raise RagError(f"{where}: {key!r} must be a list of non-empty strings")
    if q["type"] == "unanswerable" and (q["gold_titles"] or q["answer_keywords"]):
        raise RagError(f"{where}: an unanswerable question has empty 'gold_titles' and 'answer_keywords'")
    if q["type"] != "followup":
        if "history" in q:
            raise RagError(f"{where}: 'history' is only allowed on type 'followup', not {q['type']!r}")
    else:
        history = q.get("history")
        if not isinstance(history, list) or not history:
            raise RagError(f"{where}: a followup question needs a non-empty 'history' list")
        for turn in history:
            if not (isinstance(turn, dict) and turn.get("role") in ("user", "assistant")
                    and isinstance(turn.get("content"), str)):
                raise RagError(f"{where}: each history turn must be "
                               '{"role": "user"|"assistant", "content": "..."}')
    return q


def load_questions(path: str | Path) -> list[dict]:
    """The questions of a JSONL file in the contract's format; a bad line raises RagError("FILE:LINE: ...")."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RagError(f"{path}: no such questions file") from None
    except UnicodeDecodeError:
        raise RagError(f"{path}: not UTF-8 text; expected JSONL, one question object per line") from None
    questions, seen = [], set()
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            q = json.loads(line)
        except json.JSONDecodeError as e:
            raise RagError(f"{where}: not valid JSON ({e.msg} at column {e.colno})") from None
        questions.append(_check_question(q, where, seen))
        seen.add(q["id"])
    if not questions:
        raise RagError(f"{path}: no questions in the file")
    return questions


def select(questions: Sequence[dict], *, limit: int | None = None,
           types: Iterable[str] | None = None) -> list[dict]:
    """The questions of the given types (all when None), then the first `limit` of them."""
    wanted = set(types) if types else None
    if wanted and wanted - set(TYPES):
        raise RagError(f"unknown question type(s) {', '.join(sorted(wanted - set(TYPES)))}; "
                       f"choose from {', '.join(TYPES)}")
    out = [q for q in questions if wanted is None or q["type"] in wanted]
    return out[:limit] if limit is not None else out


def read_results(path: Path) -> list[dict]:
    """Rows already in results.jsonl; a half-written last line (a killed run) is dropped from the file."""
    if not path.exists():
        return []
    rows, good_lines = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(row, dict) and "id" in row:
            rows.append(row)
            good_lines.append(line)
    raw = path.read_text(encoding="utf-8")
    if len(good_lines) != len([ln for ln in raw.splitlines() if ln.strip()]) or (raw and not raw.endswith("\n")):
        path.write_text("".join(ln + "\n" for ln in good_lines), encoding="utf-8")
    return rows


def make_row(q: dict, answer: Answer | None, error: str | None = None, elapsed: float = 0.0) -> dict:
    """One results.jsonl line: the answer object, the question's fields and its scores."""
    if answer is not None:
        row = answer.to_json()
    else:
        row = {"question": q["question"], "answer": "", "abstained": False, "citations": [], "sources": [],
               "timings": {"total_s": round(elapsed, 3)}, "model": {}}
    row.update({"id": q["id"], "type": q["type"], "gold_titles": q["gold_titles"],
                "answer_keywords": q["answer_keywords"], "error": error})
    if "history" in q:
        row["history"] = q["history"]
    row["scores"] = score_row(row)
    return row


def answer_one(q: dict, ask: AskFn, summarize: SummarizeFn | None) -> dict:
    """Run one question; a RagError becomes an error row."""
    t0 = time.perf_counter()
    try:
        if q["type"] == "summary" and summarize is not None:
            answer = summarize(q["question"])
        else:
            answer = ask(q["question"], list(q.get("history") or []))
    except RagError as e:
        return make_row(q, None, error=f"{type(e).__name__}: {e}", elapsed=time.perf_counter() - t0)
    return make_row(q, answer)


def run_eval(ask: AskFn, questions: Sequence[dict], out_dir: str | Path, *,
             summarize: SummarizeFn | None = None, progress: bool = True, limit: int | None = None,
             types: Iterable[str] | None = None, label: str = "", extra: dict | None = None) -> dict:
    """Answer every selected question (resuming), then write summary.json, report.md and charts; return the summary.

    `extra` is merged into the summary (e.g. {"retrieval": ...}); `label` titles the report.
    """
    from eval.report import write_report

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.jsonl"
    chosen = select(questions, limit=limit, types=types)
    done = {r["id"]: r for r in read_results(results)}
    todo = [q for q in chosen if q["id"] not in done]
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(chosen), initial=len(chosen) - len(todo), unit="q", desc=label or "eval",
                   file=sys.stderr, dynamic_ncols=True)
    with results.open("a", encoding="utf-8") as f:
        for q in todo:
            row = answer_one(q, ask, summarize)
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
            f.flush()
            done[q["id"]] = row
            if bar:
                bar.set_postfix_str(f"{q['id']} {row['timings'].get('total_s', 0):.1f}s", refresh=False)
                bar.update(1)
    if bar:
        bar.close()
    rows = [done[q["id"]] for q in chosen]
    summary = summarize_rows(rows)
    models = next((r.get("model") for r in rows if r.get("model")), {})
    summary["model"] = models
    summary["label"] = label
    summary.update(extra or {})
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
    write_report(summary, rows, out_dir, title=label)
    return summary
