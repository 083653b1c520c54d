"""The Gradio chat's layout: chat on the left, sources on the right, settings and status below. All logic
lives in rag/; what happens on each event is ui/handlers.py, rendering is ui/render.py, serving ui/serve.py.

build_app(pipeline, settings) takes the pipeline object (a fake one in tests); main_ui(args, settings) builds the
real parts once, before launching, so the first question never pays for loading or ingesting.
"""
from __future__ import annotations

import os
import sys

from rag.settings import DEFAULTS
from ui import render
from ui.handlers import ASK, MODES, PLACEHOLDERS, SUMMARIZE, ChatHandlers
from ui.serve import LOOPBACK, exposure_warning, launch, limit_malloc_arenas, read_auth

# Each example carries its mode: picking the last one switches the page to Summarize.
EXAMPLES = [
    ["How many object classes does 3DIEBench have?", ASK],
    ["What do Poincaré embeddings learn hierarchies in?", ASK],
    ["Summarize what the collection says about hyperbolic embeddings", SUMMARIZE],
]
MAX_NEW_TOKENS_RANGE = (32, 512)


def build_app(pipeline, settings=DEFAULTS):
    """The page; its events call a ChatHandlers over `pipeline`."""
    import gradio as gr

    h = ChatHandlers(pipeline)
    top_k_default = min(max(int(settings.top_k), 1), settings.top_k_max)
    facets = pipeline.facets() if hasattr(pipeline, "facets") else {}
    years, cats = facets.get("years") or [], facets.get("categories") or []
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
                    top_k = gr.Slider(1, settings.top_k_max, value=top_k_default, step=1, label="Number of papers",
                                      info="Ask mode; Summarize keeps every paper above a relevance cut-off")
                    max_new = gr.Slider(*MAX_NEW_TOKENS_RANGE, value=int(settings.max_new_tokens), step=16,
                                        label="Maximum answer length (tokens)", info="Ask mode")
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
        status = gr.Markdown(render.status_line(h.model_info), elem_id="rag-status")

        outputs = [question, chatbot, sources, status, turns, export]
        inputs = [question, turns, top_k, max_new, mode, year, categories]
        mode.change(h.switch_mode, mode, [question, ask], queue=False, show_progress="hidden")
        # "minimal": the sources panel keeps showing the last answer's papers while the next one streams
        submitted = question.submit(h.respond, inputs, outputs, show_progress="minimal")
        clicked = ask.click(h.respond, inputs, outputs, show_progress="minimal")
        new.click(h.new_chat, None, outputs, cancels=[submitted, clicked], queue=False)
        chatbot.clear(h.new_chat, None, outputs, cancels=[submitted, clicked], queue=False)
    return demo


def main_ui(args, settings=None) -> int:
    """Build every part once (ingesting the bundled abstracts if the store is empty), then serve."""
    from rag.build import build_parts_and_generator, build_pipeline
    from rag.settings import settings_from_env

    limit_malloc_arenas()
    settings = settings or settings_from_env()
    auth = read_auth(os.environ)   # read at the edge, like the other settings
    host, port = args.host, args.port
    warning = exposure_warning(host, port, auth)
    if warning:
        print(warning, file=sys.stderr)

    def on_ingest(done: int, total: int) -> None:
        print(f"  ingested {done}/{total} papers", flush=True)

    print(f"[1/2] Loading the embedder, the store in {settings.store_dir} and the generator (the first run "
          "converts the bundled model, 1-2 min) …", flush=True)
    parts, generator = build_parts_and_generator(settings, progress=sys.stderr.isatty(), on_ingest=on_ingest)
    print(f"      {parts.store.count_chunks()} passages in the store", flush=True)
    pipeline = build_pipeline(settings, parts=parts, generator=generator, progress=False)
    info = pipeline.model_info
    print(f"[2/2] Ready: generator {info.get('generator')}, embedder {info.get('embedder')}", flush=True)

    demo = launch(build_app(pipeline, settings), host, port, auth)
    print(f"Open http://{'localhost' if host in LOOPBACK else host}:{port} (no public share link"
          f"{'; login required' if auth else ''}; Ctrl-C stops it)", flush=True)
    demo.block_thread()
    return 0
