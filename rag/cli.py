"""The `rag` command. Heavy libraries load only inside the subcommand that needs them, so --help is fast."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.errors import RagError

EXAMPLES = """examples:
  rag ask "How many classes does 3DIEBench have?"
  rag ask "What dataset did they introduce?" --history chat.json --json
  rag ingest --source my_papers.jsonl
  rag eval --questions eval/questions.jsonl --out eval/runs/dev
  rag ui

settings (environment): RAG_HOME (data folder, default ./.rag), RAG_GENERATOR (bundled | folder |
file.gguf | hub id), RAG_EMBEDDER (bundled | sentence-transformers folder or id), RAG_LLM_BASE_URL +
RAG_LLM_MODEL (+ RAG_LLM_API_KEY) for an OpenAI-compatible server, RAG_PRECISION=float32|bfloat16|int8 (default auto).
"""


def _settings(args):
    from rag.settings import set_offline_env, settings_from_env

    set_offline_env()
    import os
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    return settings_from_env(top_k=getattr(args, "top_k", None))


def _read_history(path: str | None) -> list:
    if not path:
        return []
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RagError(f"{path}: no such history file") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise RagError(f"{path}: history is not valid JSON ({e}); expected a list of "
                       '{"role": "user"|"assistant", "content": "..."}') from None
    if not isinstance(data, list) or not all(isinstance(m, dict) and m.get("role") in ("user", "assistant")
                                             and isinstance(m.get("content"), str) for m in data):
        raise RagError(f"{path}: history must be a JSON list of "
                       '{"role": "user"|"assistant", "content": "..."} objects')
    return data


def cmd_ingest(args) -> int:
    from rag.build import build_embedder, open_store, reset_store
    from rag.corpus import load_corpus
    from rag.ingest import ingest

    settings = _settings(args)
    papers = load_corpus(args.source or None)
    embedder = build_embedder(settings)
    if args.reset:      # never opens the old collection: it may be from another version or damaged
        report = reset_store(settings, papers, embedder)
    else:
        _, store = open_store(settings, embedder)
        report = ingest(papers, store, embedder)
    print(report.line())
    return 0


def _print_answer(answer, streamed: str) -> None:
    if answer.answer.strip() != streamed.strip():
        print(f"\n\nChecked answer: {answer.answer}")
    print()
    if answer.abstained:
        if answer.related:
            print("\nRelated papers (they do not answer the question):")
            for h in answer.related:
                print(f"  - {h.paper.title}")
        return
    if answer.citations:
        print("\nCited papers:")
        for c in answer.citations:
            mark = "supported" if c.supported else "NOT supported by the paper's text"
            print(f"  [{c.marker}] {c.title} ({mark})")
            if c.quote:
                print(f"      \"{c.quote}\"")
    t = answer.timings
    print(f"\n({t.get('total_s', 0):.1f} s, first token {t.get('first_token_s', 0):.1f} s)", file=sys.stderr)


def cmd_ask(args) -> int:
    from rag.build import build_pipeline
    from rag.pipeline import check_question
    from rag.types import Answer

    settings = _settings(args)
    history = _read_history(args.history)
    check_question(args.question, settings.max_question_chars)   # before any model loads
    pipeline = build_pipeline(settings, progress=not args.json)
    answer, streamed = None, []
    for item in pipeline.stream(args.question, history=history, top_k=args.top_k):
        if isinstance(item, Answer):
            answer = item
        elif not args.json:
            streamed.append(item)
            print(item, end="", flush=True)
    if args.json:
        print(json.dumps(answer.to_json(), ensure_ascii=False))
    else:
        _print_answer(answer, "".join(streamed))
    return 0


def cmd_eval(args) -> int:
    from eval.cli import main_eval

    _settings(args)
    return main_eval(args) or 0


def cmd_ui(args) -> int:
    from ui.app import main_ui

    _settings(args)
    return main_ui(args) or 0


def cmd_summarize(args) -> int:
    from rag.summarize_cli import main_summarize

    _settings(args)
    return main_summarize(args) or 0


def cmd_bench(args) -> int:
    from rag.bench import main_bench

    _settings(args)
    return main_bench(args) or 0


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Ask questions about a collection of research-paper "
                                "abstracts and get short answers that cite the papers. Runs offline.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("ingest", help="build or update the store (bundled abstracts by default)")
    s.add_argument("--source", nargs="+", metavar="PATH", help="JSONL, CSV or plain-text files, or folders of them")
    s.add_argument("--reset", action="store_true", help="rebuild the store from scratch (the old one stays until done)")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("ask", help="answer one question with cited papers")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="print one JSON answer object (see CONTRACT) and nothing else")
    s.add_argument("--history", metavar="FILE", help='JSON list of {"role","content"} turns before the question')
    s.add_argument("--top-k", type=int, default=None, metavar="N", help="papers given to the model (default 5)")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("summarize", help="a cited summary across every relevant paper")
    s.add_argument("topic")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_summarize)

    s = sub.add_parser("eval", help="run an evaluation set and write results, summary, report and charts")
    s.add_argument("--questions", required=True, metavar="FILE", help="JSONL in the contract's format")
    s.add_argument("--out", metavar="DIR", help="output folder (re-running into it resumes)")
    s.add_argument("--limit", type=int, metavar="N", help="only the first N questions")
    s.add_argument("--types", metavar="T1,T2", help="only these question types")
    s.add_argument("--pipeline", choices=["ours", "baseline", "both"], default="ours",
                   help="ours, the plain LlamaIndex baseline, or both side by side")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("ui", help="the Gradio chat")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, this machine only)")
    s.add_argument("--port", type=int, default=7860)
    s.set_defaults(func=cmd_ui)

    s = sub.add_parser("bench", help="the speed benchmark")
    s.add_argument("--json", action="store_true")
    s.add_argument("--papers", type=int, default=20000, metavar="N",
                   help="synthetic abstracts for the ingest and retrieval measures (default 20000; 0 skips them)")
    s.add_argument("--questions", type=int, default=10, metavar="N", help="questions answered (default and most 10)")
    s.add_argument("--skip-baseline", action="store_true", help="do not run the LlamaIndex baseline")
    s.add_argument("--cold-convert", action="store_true",
                   help="also time a first run with an empty models cache (assembles and converts the model, ~1 min)")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = make_parser().parse_args(argv)
    if getattr(args, "top_k", None) is not None and not 1 <= args.top_k <= 20:
        print("rag: error: --top-k must be between 1 and 20", file=sys.stderr)
        return 2
    try:
        return args.func(args)
    except RagError as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted; the store keeps every batch that finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
