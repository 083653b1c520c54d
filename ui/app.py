"""The Gradio chat: lays out the page and renders what the pipeline yields. All logic lives in rag/.

build_app(pipeline, settings) takes the pipeline object (a fake one in tests); main_ui(args) builds the
real parts once, before launching, so the first question never pays for loading or ingesting.
"""
from __future__ import annotations

import ctypes
import os
import queue
import sys
import tempfile
import threading
import traceback
from pathlib import Path

from rag.errors import RagError
from rag.types import Answer
from ui import render
from ui.render import Turn

ASK, SUMMARIZE = "Ask", "Summarize"
MODES = [ASK, SUMMARIZE]
# Each example carries its mode: picking the last one switches the page to Summarize.
EXAMPLES = [
    ["How many object classes does 3DIEBench have?", ASK],
    ["What do Poincaré embeddings learn hierarchies in?", ASK],
    ["Summarize what the collection says about hyperbolic embeddings", SUMMARIZE],
]
PLACEHOLDERS = {ASK: "Ask a question about the papers…",
                SUMMARIZE: "Name a topic to summarise across the papers, e.g. hyperbolic embeddings…"}
UNEXPECTED = "something unexpected went wrong; the details are in the server's terminal"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_NEW_TOKENS_RANGE = (32, 512)

CSS = """
/* nowrap + no shrinking: a panel taller than max-height scrolls instead of wrapping into a second column */
#rag-sources-col { max-height: 78vh; overflow-y: auto; flex-wrap: nowrap; }
#rag-sources-col > * { flex-shrink: 0; }
.rag-sources { font-size: 0.92rem; line-height: 1.45; }
.rag-empty { color: var(--body-text-color-subdued); padding: 1rem; border: 1px dashed var(--border-color-primary);
             border-radius: 8px; }
.rag-head { font-weight: 600; margin-bottom: 0.4rem; color: var(--body-text-color-subdued); }
.rag-sub { font-size: 0.8rem; text-transform: uppercase; letter-spacing: 0.04em; margin: 0.6rem 0 0.3rem;
           color: var(--body-text-color-subdued); }
.rag-card { border: 1px solid var(--border-color-primary); border-left: 4px solid #3b82f6; border-radius: 8px;
            padding: 0.6rem 0.8rem; margin-bottom: 0.6rem; background: var(--background-fill-secondary); }
.rag-card.rag-unsupported { border-left-color: #dc2626; }
.rag-card.rag-related { border-left-color: #9ca3af; }
.rag-card-top { font-weight: 600; }
.rag-num { color: #2563eb; margin-right: 0.2rem; }
.rag-unsupported .rag-num { color: #dc2626; }
.rag-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); margin: 0.15rem 0 0.35rem; }
.rag-passage { margin: 0; }
.rag-passage mark, .rag-quote mark { background: #fde68a; color: #111827; padding: 0 2px; border-radius: 2px; }
.rag-quote { font-size: 0.85rem; margin: 0.3rem 0 0; }
.rag-link { font-size: 0.78rem; margin-top: 0.3rem; word-break: break-all; color: var(--body-text-color-subdued); }
.rag-badge { display: inline-block; font-size: 0.75rem; padding: 0 6px; border-radius: 999px; margin-left: 4px; }
.rag-ok { background: #dcfce7; color: #166534; }
.rag-bad { background: #fee2e2; color: #991b1b; }
.rag-abstain { background: #fef3c7; color: #78350f; border: 1px solid #f59e0b; border-radius: 8px;
               padding: 0.5rem 0.8rem; margin-bottom: 0.4rem; }
.rag-sources details { margin-top: 0.4rem; font-size: 0.85rem; }
#rag-status { font-size: 0.85rem; color: var(--body-text-color-subdued); }
.rag-table { width: 100%; border-collapse: collapse; font-size: 0.85rem; margin-bottom: 0.6rem; }
.rag-table th { text-align: left; font-weight: 600; font-size: 0.75rem; text-transform: uppercase;
                letter-spacing: 0.03em; color: var(--body-text-color-subdued);
                border-bottom: 2px solid var(--border-color-primary); padding: 0.25rem 0.35rem; }
.rag-sources table.rag-table th, .rag-sources table.rag-table td { border: none; }
.rag-sources table.rag-table td { vertical-align: top; border-bottom: 1px solid var(--border-color-primary);
                                  padding: 0.4rem 0.35rem; }
.rag-sources table.rag-table th { border-bottom: 2px solid var(--border-color-primary); }
.rag-table td.rag-num { font-weight: 600; white-space: nowrap; }
.rag-table tr.rag-unsupported td.rag-num { color: #dc2626; }
.rag-table .rag-title { font-weight: 600; }
.rag-table .rag-meta { margin: 0.1rem 0 0.25rem; }
.rag-contrib { font-size: 0.85rem; }
.rag-table td.rag-quote { width: 45%; font-size: 0.82rem; margin: 0; }
.rag-flagged { color: #991b1b; }
.rag-leftout li, .rag-flagged-list li { margin-bottom: 0.2rem; }
"""


def make_theme():
    """System fonts only: the page loads nothing from the internet."""
    import gradio as gr

    return gr.themes.Soft(primary_hue="blue", font=["ui-sans-serif", "system-ui", "sans-serif"])


def build_app(pipeline, settings):
    """The page: chat on the left, sources on the right, settings and status below."""
    import gradio as gr

    export_dir = Path(tempfile.mkdtemp(prefix="rag-ui-export-"))
    model_info = getattr(pipeline, "model_info", {})
    top_k_default = min(max(int(getattr(settings, "top_k", 5)), 1), 10)
    max_new_default = int(getattr(settings, "max_new_tokens", 160))

    def export_button(turns: list[Turn]):
        """The download button, pointing at a fresh Markdown file of the conversation."""
        if not any(t.get("answer") is not None for t in turns):
            return gr.DownloadButton(value=None, interactive=False)
        path = Path(tempfile.mkdtemp(dir=export_dir)) / "conversation.md"
        path.write_text(render.export_markdown(turns), encoding="utf-8")
        return gr.DownloadButton(value=str(path), interactive=True)

    def summarize(topic, turns, where=None):
        """Build one summary, showing each step and the draft in the chat. Yields like `respond`."""
        pending = turns + [Turn(question=topic, answer=None, error=None)]
        progress = ("finding the relevant papers", 0, 0)
        parts: list[str] = []

        def chat():
            return render.turn_messages(pending, pending_markdown=render.summary_progress_markdown(
                *progress, draft="".join(parts)))
        yield "", chat(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        summary: Answer | None = None
        try:
            for kind, value in summary_events(pipeline, topic, where):
                if kind == "progress":
                    progress = value
                elif isinstance(value, Answer):
                    summary = value
                    break
                else:
                    parts.append(value)
                yield gr.skip(), chat(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as e:
            yield failed(turns, topic, str(e))
            return
        except Exception:   # never a traceback in the chat; the terminal gets it
            traceback.print_exc()
            yield failed(turns, topic, UNEXPECTED)
            return
        turns.append(Turn(question=topic, answer=summary, error=None if summary else "no summary was produced"))
        yield ("", render.turn_messages(turns), render.sources_html(summary),
               render.status_line(model_info, summary), turns, export_button(turns))

    def failed(turns, question, error):
        """The outputs after a failed turn: the error shown as the assistant's message."""
        turns.append(Turn(question=question, answer=None, error=error))
        return gr.skip(), render.turn_messages(turns), gr.skip(), gr.skip(), turns, gr.skip()

    def respond(question, turns, top_k, max_new_tokens, mode=ASK, year="", categories=None):
        """Stream one answer (or, in Summarize mode, one summary). Yields (textbox, chatbot, sources, status,
        turns, export)."""
        turns = list(turns or [])
        question = str(question or "")
        try:
            pipeline.validate(question)
            where = filter_where(year, categories)
        except RagError as e:
            turns.append(Turn(question=question, answer=None, error=str(e)))
            yield "", render.turn_messages(turns), gr.skip(), gr.skip(), turns, gr.skip()
            return
        if mode == SUMMARIZE:
            yield from summarize(question, turns, where)
            return
        history = render.pipeline_history(turns)
        pending = turns + [Turn(question=question, answer=None, error=None)]
        yield "", render.turn_messages(pending, pending=""), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        parts: list[str] = []
        answer: Answer | None = None
        try:
            for item in pipeline.stream(question, history=history, top_k=int(top_k),
                                        max_new_tokens=int(max_new_tokens), where=where):
                if isinstance(item, Answer):
                    answer = item
                    break
                parts.append(item)
                yield (gr.skip(), render.turn_messages(pending, pending="".join(parts)),
                       gr.skip(), gr.skip(), gr.skip(), gr.skip())
        except RagError as e:
            yield failed(turns, question, str(e))
            return
        except Exception:   # never a traceback in the chat; the terminal gets it
            traceback.print_exc()
            yield failed(turns, question, UNEXPECTED)
            return
        turns.append(Turn(question=question, answer=answer, error=None if answer else "no answer was produced"))
        yield ("", render.turn_messages(turns), render.sources_html(answer),
               render.status_line(model_info, answer), turns, export_button(turns))

    def new_chat():
        return ("", [], render.SOURCES_PLACEHOLDER, render.status_line(model_info), [],
                gr.DownloadButton(value=None, interactive=False))

    def switch_mode(mode):
        """The textbox hint and the button label follow the mode."""
        return (gr.Textbox(placeholder=PLACEHOLDERS.get(mode, PLACEHOLDERS[ASK])),
                gr.Button(SUMMARIZE if mode == SUMMARIZE else ASK))

    with gr.Blocks(title="Paper assistant", analytics_enabled=False) as demo:
        turns = gr.State([])
        gr.Markdown("## Ask the paper collection\n**Ask**: a short answer from the ML paper abstracts, with "
                    "numbered citations. **Summarize**: a cited summary of everything the collection says on a "
                    "topic, with a per-paper table. The papers and their supporting sentences appear on the right.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=420):
                chatbot = gr.Chatbot(label="Chat", show_label=False, elem_id="rag-chat", height=520, latex_delimiters=[],
                                     buttons=["copy"], feedback_options=None, group_consecutive_messages=False,
                                     placeholder="Ask about the papers, or pick an example below.")
                mode = gr.Radio(MODES, value=ASK, show_label=False, container=False, elem_id="rag-mode")
                with gr.Row():
                    question = gr.Textbox(show_label=False, placeholder=PLACEHOLDERS[ASK],
                                          lines=1, max_lines=4, scale=6, elem_id="rag-question", autofocus=True)
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80)
                with gr.Row():
                    new = gr.Button("New chat", size="sm")
                    export = gr.DownloadButton("Export as Markdown", size="sm", interactive=False)
                gr.Examples(EXAMPLES, inputs=[question, mode], label="Examples (question or topic, and mode)")
                with gr.Accordion("Settings", open=False):
                    top_k = gr.Slider(1, 10, value=top_k_default, step=1, label="Number of papers",
                                      info="Ask mode; Summarize keeps every paper above a relevance cut-off")
                    max_new = gr.Slider(*MAX_NEW_TOKENS_RANGE, value=max_new_default, step=16,
                                        label="Maximum answer length (tokens)", info="Ask mode")
                    facets = pipeline.facets() if hasattr(pipeline, "facets") else {}
                    years, cats = facets.get("years") or [], facets.get("categories") or []
                    year = gr.Textbox(label="Year", placeholder="any, or e.g. 2023 or 2020-2023", elem_id="rag-year",
                                      info=(f"papers from {years[-1]} to {years[0]}" if years else
                                            "the papers in this collection have no year"), max_lines=1)
                    categories = gr.Dropdown(cats, value=[], multiselect=True, label="Categories",
                                             elem_id="rag-categories",
                                             info="only papers in any of these" if cats else
                                             "the papers in this collection have no categories")
            with gr.Column(scale=2, min_width=320, elem_id="rag-sources-col"):
                gr.Markdown("### Sources")
                sources = gr.HTML(render.SOURCES_PLACEHOLDER, elem_id="rag-sources")
        status = gr.Markdown(render.status_line(model_info), elem_id="rag-status")

        outputs = [question, chatbot, sources, status, turns, export]
        inputs = [question, turns, top_k, max_new, mode, year, categories]
        mode.change(switch_mode, mode, [question, ask], queue=False, show_progress="hidden")
        # "minimal": the sources panel keeps showing the last answer's papers while the next one streams
        submitted = question.submit(respond, inputs, outputs, show_progress="minimal")
        clicked = ask.click(respond, inputs, outputs, show_progress="minimal")
        new.click(new_chat, None, outputs, cancels=[submitted, clicked], queue=False)
        chatbot.clear(new_chat, None, outputs, cancels=[submitted, clicked], queue=False)
    return demo


class _Stopped(Exception):
    """Raised inside the summary worker once nobody is listening any more (New chat, closed tab)."""


def filter_where(year: str | None, categories) -> dict | None:
    """The Chroma filter for the settings' year box and category menu (InputError for a bad year)."""
    from rag.filters import parse_years, where_filter

    return where_filter(parse_years(year), list(categories or []))


def summary_events(pipeline, topic: str, where: dict | None = None):
    """Run pipeline.summarize(topic, stream=True) in a worker thread and yield its events as they happen:
    ("progress", (message, done, total)), ("item", text piece or the final Summary). A thread, because the
    summarizer reports progress (reading papers, checking citations) between the pieces it yields, and the
    chat should show each step as it starts. Errors are re-raised here; stopping early stops the worker at
    its next step."""
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    done = object()

    def on_progress(message: str, n: int, total: int) -> None:
        if stop.is_set():
            raise _Stopped
        events.put(("progress", (message, n, total)))

    def work() -> None:
        try:
            for item in pipeline.summarize(topic, on_progress=on_progress, stream=True,
                                           **({"where": where} if where else {})):
                if stop.is_set():
                    break
                events.put(("item", item))
        except _Stopped:
            pass
        except BaseException as e:     # handed to the consumer, which reports it
            events.put(("error", e))
        finally:
            events.put(("end", done))

    worker = threading.Thread(target=work, name="rag-summary", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = events.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield kind, value
    finally:
        stop.set()


def parse_auth(value: str, where: str = "RAG_UI_AUTH") -> tuple[str, str]:
    """"user:password" -> ("user", "password"); the password may itself contain ":"."""
    user, sep, password = value.strip().partition(":")
    if not sep or not user or not password:
        raise RagError(f"{where} must look like user:password (both non-empty)")
    return user, password


def read_auth(environ) -> list[tuple[str, str]] | None:
    """The UI's logins: RAG_UI_AUTH=user:password and/or RAG_UI_AUTH_FILE=PATH (one user:password per
    line, blank lines and # comments skipped). Neither set -> None, no login."""
    logins = []
    if environ.get("RAG_UI_AUTH"):
        logins.append(parse_auth(environ["RAG_UI_AUTH"]))
    if environ.get("RAG_UI_AUTH_FILE"):
        path = Path(environ["RAG_UI_AUTH_FILE"]).expanduser()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise RagError(f"RAG_UI_AUTH_FILE {path}: cannot read it ({type(e).__name__})") from None
        for n, line in enumerate(lines, 1):
            if line.strip() and not line.lstrip().startswith("#"):
                logins.append(parse_auth(line, f"{path}, line {n},"))
        if not logins:
            raise RagError(f"RAG_UI_AUTH_FILE {path} holds no user:password line")
    return logins or None


def exposure_warning(host: str, port: int, auth) -> str | None:
    """What to tell the person who binds the UI beyond this machine; None on loopback."""
    if host in LOOPBACK:
        return None
    login = "" if auth else " (no login: set RAG_UI_AUTH=user:password or RAG_UI_AUTH_FILE)"
    return (f"WARNING: binding {host}: anyone who can reach this machine on port {port} can use the "
            f"assistant{login}.")


def launch(demo, host: str = "127.0.0.1", port: int = 7860, auth=None):
    """Start serving on host:port in the background, never through a public share link. Gradio's own
    start-up lines (which suggest `share=True`) are silenced: the caller says where the chat is."""
    demo.queue(default_concurrency_limit=1)   # one answer at a time: concurrent users wait their turn
    try:
        demo.launch(server_name=host, server_port=port, share=False, auth=auth, show_error=False,
                    theme=make_theme(), css=CSS, footer_links=["api", "settings"], quiet=True,
                    prevent_thread_lock=True)
    except OSError as e:
        raise RagError(f"cannot serve on {host}:{port} ({str(e).split('.')[0]}); is something else using "
                       "the port? Pick another with --port") from None
    return demo


def limit_malloc_arenas(n: int = 2) -> None:
    """Cap glibc's per-thread malloc arenas (default 8 per core, each keeping its freed memory): Gradio
    answers from many worker threads. Measured over 30 answers from 5 threads: +550 MB, capped +310 MB."""
    try:
        ctypes.CDLL("libc.so.6").mallopt(-8, n)     # -8 is M_ARENA_MAX
    except (OSError, AttributeError):
        pass                                          # not glibc: nothing to cap


def main_ui(args) -> int:
    """Build every part once (ingesting the bundled abstracts if the store is empty), then serve."""
    from rag.build import build_generator, build_parts, build_pipeline
    from rag.settings import settings_from_env

    limit_malloc_arenas()
    settings = settings_from_env()
    auth = read_auth(os.environ)   # read at the edge, like the other settings
    host, port = args.host, args.port
    warning = exposure_warning(host, port, auth)
    if warning:
        print(warning, file=sys.stderr)

    def on_ingest(done: int, total: int) -> None:
        print(f"  ingested {done}/{total} papers", flush=True)

    print(f"[1/3] Loading the embedder and the store in {settings.store_dir} …", flush=True)
    parts = build_parts(settings, progress=sys.stderr.isatty(), on_ingest=on_ingest)
    print(f"      {parts.store.count_chunks()} passages in the store", flush=True)
    print("[2/3] Loading the generator (the first run converts the bundled model, 1-2 min) …", flush=True)
    generator = build_generator(settings)
    pipeline = build_pipeline(settings, parts=parts, generator=generator, progress=False)
    info = pipeline.model_info
    print(f"[3/3] Ready: generator {info.get('generator')}, embedder {info.get('embedder')}", flush=True)

    demo = launch(build_app(pipeline, settings), host, port, auth)
    print(f"Open http://{'localhost' if host in LOOPBACK else host}:{port} (no public share link"
          f"{'; login required' if auth else ''}; Ctrl-C stops it)", flush=True)
    demo.block_thread()
    return 0
