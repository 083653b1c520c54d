"""The `rag` command. Heavy libraries load only inside the subcommand that needs them, so --help is fast."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rag.errors import RagError
from rag.settings import DEFAULTS

EXAMPLES = """examples:
  rag ask "How many classes does 3DIEBench have?"
  rag ask "What dataset did they introduce?" --history chat.json --json
  rag ingest --source my_papers.jsonl
  rag ingest --source arxiv-metadata-oai-snapshot.json --category cs.LG --since 2023-01-01
  rag ingest --source arxiv-metadata-oai-snapshot.json --workers 2 --shard 1/4
  rag ask "Which papers study diffusion models?" --year 2023 --category cs.LG
  rag eval --questions eval/questions.jsonl --out eval/runs/dev
  rag ui

settings (environment): RAG_HOME (data folder, default ./.rag), RAG_GENERATOR (bundled | folder |
file.gguf | hub id), RAG_EMBEDDER (bundled | sentence-transformers folder or id), RAG_LLM_BASE_URL +
RAG_LLM_MODEL (+ RAG_LLM_API_KEY) for an OpenAI-compatible server, RAG_BACKEND=transformers|llamacpp|openai|fake,
RAG_PRECISION=float32|bfloat16|int8 (default auto), RAG_CHROMA_URL for a Chroma server (http://host:port),
RAG_EMBED_BASE_URL + RAG_EMBED_MODEL (+ RAG_EMBED_API_KEY, RAG_EMBED_CONCURRENCY) for an embedding server.
"""


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


def _ingest_filter(args):
    from datetime import date

    from rag.filters import RecordFilter, parse_date, parse_years

    years = parse_years(args.year)
    if years and (args.since or args.until):
        raise RagError("give either --year or --since/--until, not both")
    since = parse_date(args.since, "since") if args.since else date(years[0], 1, 1) if years else None
    until = parse_date(args.until, "until") if args.until else (
        date(min(years[1], 9999), 12, 31) if years else None)
    if since and until and until < since:
        raise RagError(f"--until {until} is before --since {since}")
    return RecordFilter(categories=tuple(args.category or ()), since=since, until=until)


def cmd_ingest(args, settings) -> int:
    from rag.batches import parse_shard
    from rag.build import build_embedder, index_folder, open_store, reset_store
    from rag.corpus import check_sources, read_corpus
    from rag.ingest import ingest

    keep = _ingest_filter(args)
    shard = parse_shard(args.shard) if args.shard else None
    if shard and args.reset:
        raise RagError("--reset cannot be combined with --shard: each machine would replace the whole collection "
                       "with its share; reset on one machine first, then run the shards without --reset")
    sources = args.source or None
    total = check_sources(sources)          # every file read once: a file-level problem stops before any write
    embedder = build_embedder(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    skipped_path = settings.home / "ingest-skipped.txt"
    with skipped_path.open("w", encoding="utf-8") as skipped:
        def on_skip(record) -> None:
            if record.kind != "filtered":   # the filter's reasons are one count, not a line per record
                skipped.write(record.line() + "\n")

        records = read_corpus(sources, keep)
        kw = {"total": total, "on_skip": on_skip, "batch_size": args.batch_size, "workers": args.workers,
              "shard": shard}
        if args.reset:      # never opens the old collection: it may be from another version or damaged
            report = reset_store(settings, records, embedder, **kw)
        else:
            _, store = open_store(settings, embedder)
            report = ingest(records, store, embedder, index=index_folder(settings), **kw)
    print(report.line())
    for record in report.examples:
        print(f"  skipped {record.where}: {record.reason}")
    if report.errors or report.duplicates:
        print(f"every skipped record, with its reason: {skipped_path}")
    else:
        skipped_path.unlink(missing_ok=True)
    if report.records and not report.papers_in and report.errors:
        print("rag: error: no record could be used (reasons above)", file=sys.stderr)
        return 1
    return 0


def _where(args):
    """The Chroma filter for --year / --category, or None."""
    from rag.filters import parse_years, where_filter

    return where_filter(parse_years(getattr(args, "year", None)), getattr(args, "category", None) or [])


def cmd_ask(args, settings) -> int:
    from rag.answer.policy import check_question
    from rag.build import build_pipeline
    from rag.console import print_answer
    from rag.types import Answer

    history = _read_history(args.history)
    check_question(args.question, settings.max_question_chars)   # before any model loads
    where = _where(args)
    pipeline = build_pipeline(settings, progress=not args.json)
    answer, streamed = None, []
    for item in pipeline.stream(args.question, history=history, where=where):
        if isinstance(item, Answer):
            answer = item
        elif not args.json:
            streamed.append(item)
            print(item, end="", flush=True)
    if args.json:
        print(json.dumps({**answer.to_json(), **({"filter": where} if where else {})}, ensure_ascii=False))
    else:
        print_answer(answer, "".join(streamed))
    return 0


def cmd_summarize(args, settings) -> int:
    from rag.answer.policy import check_question
    from rag.build import build_pipeline
    from rag.console import print_summary, stderr_progress

    check_question(args.topic, settings.max_question_chars)   # before any model loads
    where = _where(args)
    pipeline = build_pipeline(settings, progress=not args.json)
    summary = pipeline.summarize(args.topic, on_progress=stderr_progress, where=where)
    if args.json:
        print(json.dumps({**summary.to_json(), **({"filter": where} if where else {})}, ensure_ascii=False))
    else:
        print_summary(summary)
    return 0


def cmd_eval(args, settings) -> int:
    from eval.cli import main_eval

    return main_eval(args, settings=settings) or 0


def cmd_ui(args, settings) -> int:
    from ui.app import main_ui

    return main_ui(args, settings) or 0


def cmd_bench(args, settings) -> int:
    from eval.bench.cli import main_bench

    return main_bench(args, settings=settings) or 0


def _filter_arguments(s) -> None:
    s.add_argument("--year", metavar="YEAR", help="only papers from YEAR, or a range like 2020-2023")
    s.add_argument("--category", action="append", metavar="CAT",
                   help="only papers in this category, e.g. cs.LG (repeat for any of several)")


def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rag", description="Ask questions about a collection of research-paper "
                                "abstracts and get short answers that cite the papers. Runs offline.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("ingest", help="build or update the store (bundled abstracts by default)",
                       description="Add papers to the store. Re-running skips papers already stored, so an "
                       "interrupted ingest resumes. Unusable records are skipped and listed with their reason.")
    s.add_argument("--source", nargs="+", metavar="PATH",
                   help="JSONL (also the arXiv metadata snapshot), JSON, CSV, BibTeX (.bib) or plain-text files, "
                        "or folders of them")
    s.add_argument("--reset", action="store_true", help="rebuild the store from scratch (the old one stays until done)")
    s.add_argument("--category", action="append", metavar="CAT",
                   help="keep only records in this category, e.g. cs.LG (repeat for any of several)")
    s.add_argument("--since", metavar="DATE", help="keep only records dated on or after DATE (2023-01-01)")
    s.add_argument("--until", metavar="DATE", help="keep only records dated on or before DATE")
    s.add_argument("--year", metavar="YEAR", help="keep only records from YEAR or a range (2020-2023)")
    s.add_argument("--batch-size", type=int, default=64, metavar="N",
                   help="papers embedded and written together (default 64; a kill loses at most one batch)")
    s.add_argument("--workers", type=int, default=1, metavar="N",
                   help="batches chunked, embedded and written at the same time (default 1; a kill loses at most N)")
    s.add_argument("--shard", metavar="I/N",
                   help="take only the I-th of N shares of the papers (by id), for N machines filling one Chroma server")
    s.set_defaults(func=cmd_ingest)

    s = sub.add_parser("ask", help="answer one question with cited papers")
    s.add_argument("question")
    s.add_argument("--json", action="store_true", help="print one JSON answer object (see CONTRACT) and nothing else")
    s.add_argument("--history", metavar="FILE", help='JSON list of {"role","content"} turns before the question')
    s.add_argument("--top-k", type=int, default=None, metavar="N", help=f"papers given to the model (default {DEFAULTS.top_k}, at most {DEFAULTS.top_k_max})")
    _filter_arguments(s)
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("summarize", help="a cited summary across every relevant paper")
    s.add_argument("topic")
    s.add_argument("--json", action="store_true")
    _filter_arguments(s)
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
    s.add_argument("--skip-summary", action="store_true", help="do not time a 10-paper summary")
    s.add_argument("--load-test", action="store_true",
                   help="also run the load test: 5 parallel chat sessions x 3 questions against a real `rag ui` (~3 min)")
    s.add_argument("--retrieval-home", metavar="DIR",
                   help="also time retrieval on the existing store under this RAG_HOME (opened, never written)")
    s.add_argument("--cold-convert", action="store_true",
                   help="also time a first run with an empty models cache (assembles and converts the model, ~1 min)")
    s.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    from rag.settings import set_offline_env, settings_from_env

    args = make_parser().parse_args(argv)
    if getattr(args, "top_k", None) is not None and not 1 <= args.top_k <= DEFAULTS.top_k_max:
        print(f"rag: error: --top-k must be between 1 and {DEFAULTS.top_k_max}", file=sys.stderr)
        return 2
    if getattr(args, "batch_size", None) is not None and not 1 <= args.batch_size <= 4096:
        print("rag: error: --batch-size must be between 1 and 4096", file=sys.stderr)
        return 2
    if getattr(args, "workers", None) is not None and not 1 <= args.workers <= 64:
        print("rag: error: --workers must be between 1 and 64", file=sys.stderr)
        return 2
    set_offline_env()
    try:
        settings = settings_from_env(top_k=getattr(args, "top_k", None))   # read once, passed down
        return args.func(args, settings)
    except RagError as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted; the store keeps every batch that finished", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
