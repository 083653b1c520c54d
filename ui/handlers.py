"""What happens when the user acts: ask, summarize, start a new chat, switch mode. Each handler is a generator
of Gradio updates for the outputs (textbox, chatbot, sources, status, turns, export); the layout is ui/app.py."""
from __future__ import annotations

import queue
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
PLACEHOLDERS = {ASK: "Ask a question about the papers…",
                SUMMARIZE: "Name a topic to summarise across the papers, e.g. hyperbolic embeddings…"}
UNEXPECTED = "something unexpected went wrong; the details are in the server's terminal"


class ChatHandlers:
    """The page's event handlers over one pipeline (a fake one in tests)."""

    def __init__(self, pipeline):
        self.pipeline = pipeline
        self.model_info = getattr(pipeline, "model_info", {})
        self.export_dir = Path(tempfile.mkdtemp(prefix="rag-ui-export-"))

    def export_button(self, turns: list[Turn]):
        """The download button, pointing at a fresh Markdown file of the conversation."""
        import gradio as gr

        if not any(t.get("answer") is not None for t in turns):
            return gr.DownloadButton(value=None, interactive=False)
        path = Path(tempfile.mkdtemp(dir=self.export_dir)) / "conversation.md"
        path.write_text(render.export_markdown(turns), encoding="utf-8")
        return gr.DownloadButton(value=str(path), interactive=True)

    def finished(self, turns: list[Turn], question: str, answer: Answer | None, what: str = "answer"):
        """The outputs once a turn is done: the conversation, its sources, status and export."""
        turns.append(Turn(question=question, answer=answer, error=None if answer else f"no {what} was produced"))
        return ("", render.turn_messages(turns), render.sources_html(answer),
                render.status_line(self.model_info, answer), turns, self.export_button(turns))

    @staticmethod
    def failed(turns: list[Turn], question: str, error: str):
        """The outputs after a failed turn: the error shown as the assistant's message."""
        import gradio as gr

        turns.append(Turn(question=question, answer=None, error=error))
        return gr.skip(), render.turn_messages(turns), gr.skip(), gr.skip(), turns, gr.skip()

    def respond(self, question, turns, top_k, max_new_tokens, mode=ASK, year="", categories=None):
        """Stream one answer (or, in Summarize mode, one summary)."""
        import gradio as gr

        turns = list(turns or [])
        question = str(question or "")
        try:
            self.pipeline.validate(question)
            where = filter_where(year, categories)
        except RagError as e:
            turns.append(Turn(question=question, answer=None, error=str(e)))
            yield "", render.turn_messages(turns), gr.skip(), gr.skip(), turns, gr.skip()
            return
        if mode == SUMMARIZE:
            yield from self.summarize(question, turns, where)
            return
        pending = turns + [Turn(question=question, answer=None, error=None)]
        yield "", render.turn_messages(pending, pending=""), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        parts: list[str] = []
        answer: Answer | None = None
        try:
            for item in self.pipeline.stream(question, history=render.pipeline_history(turns), top_k=int(top_k),
                                             max_new_tokens=int(max_new_tokens), where=where):
                if isinstance(item, Answer):
                    answer = item
                    break
                parts.append(item)
                yield (gr.skip(), render.turn_messages(pending, pending="".join(parts)),
                       gr.skip(), gr.skip(), gr.skip(), gr.skip())
        except RagError as e:
            yield self.failed(turns, question, str(e))
            return
        except Exception:   # never a traceback in the chat; the terminal gets it
            traceback.print_exc()
            yield self.failed(turns, question, UNEXPECTED)
            return
        yield self.finished(turns, question, answer)

    def summarize(self, topic: str, turns: list[Turn], where: dict | None = None):
        """Build one summary, showing each step and the draft in the chat. Yields like `respond`."""
        import gradio as gr

        pending = turns + [Turn(question=topic, answer=None, error=None)]
        progress = ("finding the relevant papers", 0, 0)

        def chat():
            return render.turn_messages(pending, pending_markdown=render.summary_progress_markdown(
                *progress))
        yield "", chat(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        summary: Answer | None = None
        try:
            for kind, value in summary_events(self.pipeline, topic, where):
                if kind == "progress":
                    progress = value
                elif isinstance(value, Answer):
                    summary = value
                    break
                else:
                    continue            # the unchecked draft is not shown
                yield gr.skip(), chat(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        except RagError as e:
            yield self.failed(turns, topic, str(e))
            return
        except Exception:   # never a traceback in the chat; the terminal gets it
            traceback.print_exc()
            yield self.failed(turns, topic, UNEXPECTED)
            return
        yield self.finished(turns, topic, summary, "summary")

    def new_chat(self):
        import gradio as gr

        return ("", [], render.SOURCES_PLACEHOLDER, render.status_line(self.model_info), [],
                gr.DownloadButton(value=None, interactive=False))

    @staticmethod
    def switch_mode(mode):
        """The textbox hint and the button label follow the mode."""
        import gradio as gr

        return (gr.Textbox(placeholder=PLACEHOLDERS.get(mode, PLACEHOLDERS[ASK])),
                gr.Button(SUMMARIZE if mode == SUMMARIZE else ASK))


def filter_where(year: str | None, categories) -> dict | None:
    """The Chroma filter for the settings' year box and category menu (InputError for a bad year)."""
    from rag.filters import parse_years, where_filter

    return where_filter(parse_years(year), list(categories or []))


class _Stopped(Exception):
    """Raised inside the summary worker once nobody is listening any more (New chat, closed tab)."""


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
