"""Serving the chat: logins, the warning for a non-loopback address, launching without a share link, memory."""
from __future__ import annotations

import ctypes
from pathlib import Path

from rag.errors import RagError
from ui.style import CSS, make_theme

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


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
