"""The real UI in a real browser: `rag ui` with the bundled models, driven by Debian's Chromium.

Start-up ingests the bundled abstracts into a fresh RAG_HOME and loads the models (the converted
generator is shared in <repo>/.rag/models), so allow a few minutes.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.support.data import shared_models_dir
from eval.bench.ui_server import running_ui

pytestmark = [pytest.mark.browser, pytest.mark.model]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = REPO / "tests" / "artifacts"
START_TIMEOUT_S = 300
ANSWER_TIMEOUT_S = 180

SIE_TITLE = "Self-supervised learning of Split Invariant Equivariant representations"
# Retrieves the SIE paper first (its abstract names 3DIEBench and its 55 classes).
QUESTION = "How many object classes does the 3DIEBench dataset have?"
FOLLOW_UP = "What does their predictor use?"
OTHER_QUESTION = "What do Poincaré embeddings learn hierarchies in?"

SUMMARY_TIMEOUT_S = 300
MAX_RSS_GROWTH_MB = 600          # generous: the measured growth is in README's "Limits and safety"
# What each of eval.bench.load.BAD_REQUESTS must come back as (in order).
BAD_REQUESTS_EXPECTED = [r"question is empty", r"question is empty", r"limit is 2000", r".",
                         r"refused by the server", r"refused by the server", r"refused by the server",
                         r"is not a year"]

QUESTION_BOX = "#rag-question textarea"
BOT = '#rag-chat [data-testid="bot"]'


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory):
    """`rag ui` on a free loopback port over a fresh store, every network event of it logged; stopped at
    the end whatever happens."""
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api")
    home = tmp_path_factory.mktemp("rag_home")
    # The offline and telemetry settings are left to `rag` itself: the network log checks them.
    env = {"RAG_MODELS_DIR": str(shared_models_dir()), "HF_HUB_OFFLINE": None, "TRANSFORMERS_OFFLINE": None,
           "GRADIO_ANALYTICS_ENABLED": None, "ANONYMIZED_TELEMETRY": None, "HF_HUB_DISABLE_TELEMETRY": None,
           "RAG_UI_AUTH": None, "RAG_UI_AUTH_FILE": None}
    try:
        with running_ui(home, env=env, audit_log=home / "network.jsonl", start_timeout_s=START_TIMEOUT_S) as server:
            yield server
    except RuntimeError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="module")
def ui_url(ui_server):
    return ui_server.url


@pytest.fixture(scope="module")
def browser(ui_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


def open_chat(browser, url):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url, wait_until="domcontentloaded")
    page.wait_for_selector(QUESTION_BOX, timeout=60_000)
    return page


def ask(page, question: str) -> None:
    page.fill(QUESTION_BOX, question)
    page.press(QUESTION_BOX, "Enter")


def wait_for_answers(page, n: int, timeout_s: float = ANSWER_TIMEOUT_S) -> str:
    """Poll until the chat holds n finished answers; return the last one's text."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        bots = page.locator(BOT)
        if bots.count() >= n:
            last = bots.nth(n - 1).inner_text()
            if "▌" not in last and "Searching the papers" not in last and "⏳" not in last and last.strip():
                return last
        time.sleep(1)
    pytest.fail(f"no finished answer #{n} within {timeout_s} s; chat:\n{page.inner_text('#rag-chat')}")


def test_question_streams_a_cited_answer_and_follow_up(browser, ui_url):
    page = open_chat(browser, ui_url)
    ask(page, QUESTION)
    answer = wait_for_answers(page, 1)
    assert "No answer found" not in answer, f"the pipeline abstained on {QUESTION!r}:\n{answer}"
    assert re.search(r"\[1\]", answer), answer
    assert "55" in answer, answer                                 # the class count from the SIE abstract
    sources = page.inner_text("#rag-sources")
    assert SIE_TITLE in sources, sources
    assert "<mark>" in page.inner_html("#rag-sources")            # the supporting quote is highlighted
    assert "retrieval score" in sources
    assert "first token" in page.inner_text("#rag-status")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui.png"), full_page=True)

    ask(page, FOLLOW_UP)
    second = wait_for_answers(page, 2)
    assert second.strip() and second != answer
    assert page.locator(BOT).count() == 2
    page.screenshot(path=str(ARTIFACTS / "ui-followup.png"), full_page=True)
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_empty_question_is_a_friendly_message(browser, ui_url):
    page = open_chat(browser, ui_url)
    page.press(QUESTION_BOX, "Enter")
    message = wait_for_answers(page, 1, timeout_s=60)
    assert "question is empty" in message.lower()
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_two_users_at_once_each_get_their_own_answer(browser, ui_url):
    a, b = open_chat(browser, ui_url), open_chat(browser, ui_url)
    ask(a, QUESTION)
    ask(b, OTHER_QUESTION)
    answer_a = wait_for_answers(a, 1, timeout_s=2 * ANSWER_TIMEOUT_S)
    answer_b = wait_for_answers(b, 1, timeout_s=2 * ANSWER_TIMEOUT_S)
    chat_a, chat_b = a.inner_text("#rag-chat"), b.inner_text("#rag-chat")
    assert QUESTION in chat_a and OTHER_QUESTION not in chat_a
    assert OTHER_QUESTION in chat_b and QUESTION not in chat_b
    assert answer_a != answer_b
    assert SIE_TITLE in a.inner_text("#rag-sources")
    assert "Poincaré" in b.inner_text("#rag-sources")
    a.close()
    b.close()


def test_summarize_example_switches_mode_shows_progress_and_paper_table(browser, ui_url):
    page = open_chat(browser, ui_url)
    page.locator('[data-testid^="dataset-cell"]').filter(has_text="Summarize what the collection").first.click()
    page.wait_for_function("() => document.querySelector('#rag-mode input[value=\"Summarize\"]').checked",
                           timeout=10_000)
    assert page.input_value(QUESTION_BOX).startswith("Summarize what the collection says about hyperbolic")
    t0 = time.monotonic()
    page.press(QUESTION_BOX, "Enter")
    steps: set[str] = set()
    text = ""
    while time.monotonic() - t0 < SUMMARY_TIMEOUT_S:
        bots = page.locator(BOT)
        text = bots.first.inner_text() if bots.count() else ""
        if "⏳" in text:
            steps.add(text.split("…", 1)[0].strip("⏳ "))
        elif text.strip():
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"no summary within {SUMMARY_TIMEOUT_S} s; chat:\n{page.inner_text('#rag-chat')}")
    print(f"summary took {time.monotonic() - t0:.0f} s; steps shown: {sorted(steps)}")
    assert "No answer found" not in text, text
    assert text.startswith("Summary of"), text
    assert re.search(r"\[1\]", text) and "Papers" in text, text
    assert any(s.startswith(("Reading", "Writing", "Checking", "Finding")) for s in steps), steps
    sources_html = page.inner_html("#rag-sources")
    assert "rag-table" in sources_html and "<mark>" in sources_html
    assert "Poincaré" in page.inner_text("#rag-sources")
    assert "first token" in page.inner_text("#rag-status")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "ui-summary.png"), full_page=True)
    assert "Traceback" not in page.inner_text("body")
    page.close()


def test_load_five_sessions_with_follow_ups(ui_server):
    """5 parallel sessions x 3 questions (2 follow-ups each), then bad requests; see tests/load_test.py."""
    from eval.bench.load import run_load

    report = run_load(ui_server.url, ui_server.proc.pid)
    summary = report.summary()
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "load-test.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    assert summary["answers"] == 15 and summary["problems"] == [], summary["problems"]
    assert summary["server_alive"] and ui_server.proc.poll() is None
    assert summary["rss_peak_mb"] - summary["rss_warm_mb"] < MAX_RSS_GROWTH_MB, summary
    assert len(summary["bad_requests"]) == len(BAD_REQUESTS_EXPECTED)
    for probe, expected in zip(summary["bad_requests"], BAD_REQUESTS_EXPECTED):
        assert re.search(expected, probe["outcome"]), probe


def test_the_server_opened_no_connection_outside_loopback(ui_server):
    """Over everything above: start-up (models, store, Gradio), every page, answer and summary."""
    events = [json.loads(line) for line in (ui_server.log.parent / "network.jsonl").read_text().splitlines()]
    print(f"{len(events)} network events, to: {sorted({e['host'] for e in events})}")
    assert any(e["local"] for e in events)                     # the recorder was running
    assert [e for e in events if not e["local"]] == []
