"""Load test of the chat: parallel sessions asking questions with follow-ups, on loopback only.

    .venv/bin/python -m eval.bench.load                  # starts `rag ui` on a free port with $RAG_HOME
    .venv/bin/python -m eval.bench.load --url http://127.0.0.1:7860/ --pid PID    # a running server

Each session is one browser-like client (gradio_client keeps its own session state, so follow-ups see
their own conversation) asking about a different paper. Checks: every answer arrives, each session's
chat holds exactly its own questions, each answer's sources name that session's paper, the server stays
up, and its memory stays bounded. Then a few bad requests. Prints one JSON report; exit 1 on a failure.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from eval.metrics import percentile
from eval.bench.ui_server import rss_mb, running_ui
from ui.render import escape_md

# One paper per session; the second and third questions only make sense after the first (follow-ups).
SESSIONS = [
    ("Self-supervised learning of Split Invariant Equivariant representations",
     ["Which paper learns equivariant representations with a hypernetwork-based predictor?",
      "What dataset did they introduce for equivariant representation learning, and how many classes does it have?",
      "How many images does that dataset of 3D renderings contain?"]),
    ("Poincaré Embeddings for Learning Hierarchical Representations",
     ["Is there a paper that embeds symbolic data into a Poincaré ball?",
      "What kind of optimization do they use to learn these embeddings?",
      "What do their embeddings outperform?"]),
    ("Hyperbolic Image-Text Representations",
     ["Is there a contrastive image-text model that uses hyperbolic representations?",
      "Which existing model do they compare it against?",
      "On which multi-modal tasks is it competitive?"]),
    ("Matryoshka Representation Learning",
     ["What is Matryoshka Representation Learning?",
      "How much smaller can the embedding get at the same ImageNet-1K accuracy?",
      "Does it add any cost during inference?"]),
    ("Generative Adversarial Symmetry Discovery",
     ["Can equivariances be discovered automatically from data?",
      "Which groups did it discover in the physics tasks?",
      "How does it represent the symmetry?"]),
]
# Requests a user (or a script) could send; each must get its answer or a refusal, never a dead server.
BAD_REQUESTS = [
    ("empty question", ("", 5, 160, "Ask")),
    ("whitespace-only question", ("   \n\t ", 5, 160, "Ask")),
    ("5,000-character question", ("why " * 1250, 5, 160, "Ask")),
    ("control characters", ("\x00\x1b[31m What is \x07 3DIEBench?\x1b[0m", 5, 160, "Ask")),
    ("top_k out of range", ("What is 3DIEBench?", 1000, 160, "Ask")),
    ("answer length out of range", ("What is 3DIEBench?", 5, 10**6, "Ask")),
    ("unknown mode", ("What is 3DIEBench?", 5, 160, "Hack")),
    ("malformed year filter", ("What is 3DIEBench?", 5, 160, "Ask", "last year")),
]
NO_FILTER = ("", [])        # the year box and the category menu, left empty


@dataclass
class Turn:
    session: int
    question: str
    wait_s: float
    ok: bool
    problem: str = ""


@dataclass
class Report:
    turns: list[Turn] = field(default_factory=list)
    rss_mb: list[float] = field(default_factory=list)
    bad_requests: list[dict] = field(default_factory=list)
    server_alive: bool = False

    def summary(self) -> dict:
        waits = [t.wait_s for t in self.turns]
        return {"answers": len(self.turns), "answers_ok": sum(t.ok for t in self.turns),
                "wait_p50_s": round(percentile(waits, 50), 1) if waits else None,
                "wait_p95_s": round(percentile(waits, 95), 1) if waits else None,
                "wait_max_s": round(max(waits), 1) if waits else None,
                "rss_warm_mb": round(self.rss_mb[0]) if self.rss_mb else None,
                "rss_peak_mb": round(max(self.rss_mb)) if self.rss_mb else None,
                "rss_after_mb": round(self.rss_mb[-1]) if self.rss_mb else None,
                "server_alive": self.server_alive, "bad_requests": self.bad_requests,
                "problems": [f"session {t.session + 1}, {t.question!r}: {t.problem}" for t in self.turns if not t.ok]}


def _text(message: dict) -> str:
    content = message.get("content")
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content or "")


def run_session(url: str, index: int, paper: str, questions: list[str], auth=None) -> list[Turn]:
    """One client asking its questions in order; each turn checked against this session only."""
    from gradio_client import Client

    client = Client(url, auth=auth, verbose=False)
    turns = []
    for k, question in enumerate(questions, 1):
        t0 = time.monotonic()
        try:
            _, chat, sources, _, _ = client.predict(question, 5, 160, "Ask", *NO_FILTER, api_name="/respond")
        except Exception as e:   # a failed request is a finding, not a crash of the test
            turns.append(Turn(index, question, time.monotonic() - t0, False, f"{type(e).__name__}: {e}"))
            continue
        wait = time.monotonic() - t0
        asked = [_text(m) for m in chat if m.get("role") == "user"]
        answer = _text(chat[-1]) if chat else ""
        problem = ""
        if len(chat) != 2 * k or asked != [escape_md(q) for q in questions[:k]]:
            problem = f"the chat holds other questions: {asked}"
        elif chat[-1].get("role") != "assistant" or not answer.strip() or "could not answer" in answer:
            problem = f"no answer: {answer[:200]!r}"
        elif paper not in sources:
            problem = "the sources do not name the session's paper"
        turns.append(Turn(index, question, wait, not problem, problem))
    return turns


def probe_bad_requests(url: str, auth=None) -> list[dict]:
    """Each bad request in a fresh session: what came back, in one line."""
    from gradio_client import Client

    out = []
    for name, args in BAD_REQUESTS:
        t0 = time.monotonic()
        try:
            _, chat, *_ = Client(url, auth=auth, verbose=False).predict(*args, *NO_FILTER[len(args) - 4:], api_name="/respond")
            outcome = " ".join(_text(chat[-1]).split())[:160] if chat else "(nothing)"
        except Exception as e:
            outcome = f"refused by the server: {type(e).__name__}: {' '.join(str(e).split())[:120]}"
        out.append({"input": name, "outcome": outcome, "seconds": round(time.monotonic() - t0, 1)})
    return out


def alive(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status == 200
    except OSError:
        return False


def run_load(url: str, pid: int | None = None, *, sessions: int = 5, auth=None, bad_requests: bool = True) -> Report:
    """All sessions at once after one warm-up question, server memory sampled every half second."""
    report = Report()
    done = threading.Event()
    # One question first: the model weights are memory-mapped and become resident during the first answer
    # (about 1 GB), which is start-up, not load.
    run_session(url, -1, SESSIONS[0][0], SESSIONS[0][1][:1], auth)

    def sample() -> None:
        while pid and not done.is_set():
            report.rss_mb.append(rss_mb(pid))
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        with ThreadPoolExecutor(max_workers=sessions) as pool:
            futures = [pool.submit(run_session, url, i, paper, questions, auth)
                       for i, (paper, questions) in enumerate(SESSIONS[:sessions])]
            for f in futures:
                report.turns += f.result()
        if bad_requests:
            report.bad_requests = probe_bad_requests(url, auth)
    finally:
        done.set()
        sampler.join()
        if pid:
            report.rss_mb.append(rss_mb(pid))
    report.server_alive = alive(url)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m eval.bench.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", help="a running `rag ui` (default: start one on a free loopback port)")
    p.add_argument("--pid", type=int, help="the server's process id, to sample its memory")
    p.add_argument("--sessions", type=int, default=5, choices=range(1, len(SESSIONS) + 1), metavar="N")
    p.add_argument("--user", help="login user:password, if the server asks for one")
    args = p.parse_args(argv)
    auth = tuple(args.user.split(":", 1)) if args.user else None
    if args.url:
        report = run_load(args.url, args.pid, sessions=args.sessions, auth=auth)
    else:
        home = Path(os.environ.get("RAG_HOME") or ".rag").resolve()    # the store `rag ui` would use
        home.mkdir(parents=True, exist_ok=True)
        with running_ui(home) as server:
            report = run_load(server.url, server.proc.pid, sessions=args.sessions, auth=auth)
    summary = report.summary()
    print(json.dumps(summary, indent=2, ensure_ascii=False))
    return 0 if summary["answers_ok"] == summary["answers"] and summary["server_alive"] else 1


if __name__ == "__main__":
    sys.exit(main())
