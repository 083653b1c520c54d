"""Exposure of the chat: loopback by default, a warning elsewhere, optional login, no share link, no
telemetry, offline model libraries; and what a real browser shows for hostile titles and answers.

The served app is the real Gradio page (ui.app.build_app + ui.app.launch) over the tiny corpus with the
hashing embedder and the fake generator, so no model loads.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import socket
import time
import urllib.error
import urllib.request

import pytest

from rag.errors import RagError
from rag.types import Paper
from ui import render
from ui.serve import exposure_warning, launch, read_auth

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LOGIN = ("ann", "s3cret:with:colons")
EVIL_URL = "https://evil.example/steal_data"
EVIL = Paper("evil", f'Mirror <img src=x onerror="alert(1)"> [click me](http://evil.example/a_b) *bold* {EVIL_URL}',
             f"The evil mirror at {EVIL_URL} hosts renderings of 3D models from 55 classes.")
EVIL_QUESTION = f"What does the evil mirror at {EVIL_URL} host? <script>alert('question')</script>"
EVIL_REPLY = f"The evil mirror at {EVIL_URL} hosts renderings of 3D models from 55 classes [1]."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- settings read at the edge ---------------------------------------------------------------------

def test_ui_binds_loopback_unless_told_otherwise():
    from rag.cli import make_parser

    assert make_parser().parse_args(["ui"]).host == "127.0.0.1"
    assert exposure_warning("127.0.0.1", 7860, None) is None
    assert exposure_warning("localhost", 7860, None) is None
    warning = exposure_warning("0.0.0.0", 7860, None)
    assert warning.startswith("WARNING: binding 0.0.0.0") and "no login" in warning and "\n" not in warning
    assert "no login" not in exposure_warning("0.0.0.0", 7860, [LOGIN])


def test_login_from_the_environment_or_a_file(tmp_path):
    assert read_auth({}) is None
    assert read_auth({"RAG_UI_AUTH": "ann:s3cret:with:colons"}) == [LOGIN]
    f = tmp_path / "logins"
    f.write_text("# who may log in\nann:s3cret:with:colons\n\nbob:pw\n", encoding="utf-8")
    assert read_auth({"RAG_UI_AUTH_FILE": str(f)}) == [LOGIN, ("bob", "pw")]
    assert read_auth({"RAG_UI_AUTH": "cy:pw", "RAG_UI_AUTH_FILE": str(f)})[0] == ("cy", "pw")


@pytest.mark.parametrize("env,match", [
    ({"RAG_UI_AUTH": "annonly"}, "RAG_UI_AUTH must look like user:password"),
    ({"RAG_UI_AUTH": ":pw"}, "RAG_UI_AUTH must look like user:password"),
    ({"RAG_UI_AUTH_FILE": "{tmp}/missing"}, "cannot read it"),
    ({"RAG_UI_AUTH_FILE": "{tmp}/bad"}, r"bad, line 2, must look like user:password"),
    ({"RAG_UI_AUTH_FILE": "{tmp}/empty"}, "holds no user:password line"),
])
def test_bad_login_settings_are_one_line_errors(tmp_path, env, match):
    (tmp_path / "bad").write_text("ann:pw\nbob\n", encoding="utf-8")
    (tmp_path / "empty").write_text("# nobody yet\n", encoding="utf-8")
    env = {k: v.format(tmp=tmp_path) for k, v in env.items()}
    with pytest.raises(RagError, match=match) as e:
        read_auth(env)
    assert "\n" not in str(e.value)


def test_offline_and_no_telemetry_settings(monkeypatch, tmp_path):
    from rag.settings import set_offline_env
    from rag.store import open_client

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY", "ANONYMIZED_TELEMETRY",
                "GRADIO_ANALYTICS_ENABLED"):
        monkeypatch.delenv(var, raising=False)
    set_offline_env()
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["HF_HUB_DISABLE_TELEMETRY"] == "1"
    assert os.environ["ANONYMIZED_TELEMETRY"] == "False" and os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert open_client(tmp_path / "chroma").get_settings().anonymized_telemetry is False


@pytest.mark.parametrize("text", ["see https://evil.example/x_y-z now", "www.evil.example/p_q", "mail a@evil.example",
                                  "[click](http://evil.example/a_b)"])
def test_escaped_text_has_nothing_a_renderer_would_link(text):
    out = render.escape_md(text)
    assert "://" not in out and "www." not in out.lower() and "@" not in out and "](" not in out


def test_escaped_entities_stay_whole():
    assert render.escape_md("What's <b>") == "What&#x27;s &lt;b&gt;"        # not "&\\#x27;", shown as typed


# --- the served page -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """The real page with a login on a free loopback port; what Gradio printed while starting it."""
    from rag.answer.citations import SupportChecker
    from rag.formats import parse_plain
    from rag.embed import HashEmbedder
    from rag.generators.base import FakeGenerator
    from rag.ingest import ingest
    from rag.answer.pipeline import Pipeline
    from rag.retrieve import HybridRetriever
    from rag.settings import Settings
    from rag.store import ChromaStore, open_client
    from tests.support.data import TINY
    from ui.app import build_app

    embedder = HashEmbedder()
    store = ChromaStore(open_client(tmp_path_factory.mktemp("ui-sec") / "chroma"), "papers",
                        embedder_name=embedder.name)
    ingest([*parse_plain(TINY, "tiny.txt"), EVIL], store, embedder, progress=False)
    pipeline = Pipeline(HybridRetriever(store, embedder), FakeGenerator(lambda m: EVIL_REPLY),
                        SupportChecker(embedder))
    app = build_app(pipeline, Settings())
    assert app.analytics_enabled is False
    port = free_port()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        demo = launch(app, "127.0.0.1", port, [LOGIN])
    try:
        yield demo, f"http://127.0.0.1:{port}/", printed.getvalue()
    finally:
        demo.close()


def test_no_share_link_and_no_advice_to_make_one(served, monkeypatch):
    demo, _, printed = served
    assert demo.share is False and demo.share_url is None
    assert "share" not in printed.lower() and "public" not in printed.lower(), printed


def test_the_page_needs_a_login(served):
    _, url, _ = served
    from gradio_client import Client

    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url + "config", timeout=10)
    assert e.value.code == 401
    with pytest.raises(Exception):
        Client(url, verbose=False)
    with pytest.raises(Exception):
        Client(url, auth=("ann", "wrong"), verbose=False)
    result = Client(url, auth=LOGIN, verbose=False).predict(EVIL_QUESTION, 5, 160, "Ask", "", [], api_name="/respond")
    chat = result[1]
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert "55 classes" in chat[-1]["content"][0]["text"]


def test_a_busy_port_is_a_one_line_error():
    import gradio as gr

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with gr.Blocks() as demo:
            gr.Markdown("x")
        with pytest.raises(RagError, match=f"cannot serve on 127.0.0.1:{port}.*--port") as e:
            launch(demo, "127.0.0.1", port, None)
    assert "\n" not in str(e.value)


@pytest.mark.browser
def test_hostile_titles_and_answers_render_as_plain_text(served):
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    _, url, _ = served
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            requests, dialogs = [], []
            page.on("request", lambda r: requests.append(r.url))
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.goto(url, wait_until="domcontentloaded")
            page.fill('input[data-testid="textbox"]', LOGIN[0])
            page.fill('input[type="password"]', LOGIN[1])
            page.get_by_role("button", name="Login").click()
            page.wait_for_selector("#rag-question textarea", timeout=60_000)
            page.fill("#rag-question textarea", EVIL_QUESTION)
            page.press("#rag-question textarea", "Enter")
            page.wait_for_selector("#rag-sources .rag-card", timeout=60_000)
            time.sleep(1)
            chat, sources = page.inner_text("#rag-chat"), page.inner_text("#rag-sources")
            links = page.eval_on_selector_all("#rag-chat a, #rag-sources a", "els => els.map(e => e.href)")
            injected = page.eval_on_selector_all("#rag-chat img, #rag-sources img, #rag-chat script, "
                                                 "#rag-sources script, #rag-chat em, #rag-sources em",
                                                 "els => els.map(e => e.outerHTML)")
            page.screenshot(path=str(_artifacts() / "ui-hostile.png"), full_page=True)
        finally:
            browser.close()
    assert links == [] and injected == [] and dialogs == []
    assert EVIL_QUESTION in chat                                     # the question, shown as typed
    assert EVIL.title in chat and EVIL.title in sources              # the title, shown as written
    assert f"{EVIL_URL} hosts renderings" in chat and "\\" not in chat
    outside = [u for u in requests if not re.match(r"(https?|wss?)://127\.0\.0\.1[:/]|data:|blob:", u)]
    assert outside == []


def _artifacts():
    from tests.support.data import REPO

    path = REPO / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
