"""Real servers for tests: started on 127.0.0.1 at a free port, awaited with a deadline, always stopped.

A server whose package is missing skips its tests in a plain `pytest` run, but fails them when
RAG_REQUIRE_SERVERS=1 (scripts/test.sh, hence CI, sets it): CI must show them passing, not skipped.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator

import pytest


def require_module(module: str, install_hint: str) -> None:
    """Skip (or fail, when RAG_REQUIRE_SERVERS=1) unless `module` can be imported."""
    if importlib.util.find_spec(module) is not None:
        return
    message = f"{module} is not installed ({install_hint})"
    if os.environ.get("RAG_REQUIRE_SERVERS") == "1":
        pytest.fail(message + "; RAG_REQUIRE_SERVERS=1 asks for the real servers", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def running_server(argv: list[str], ready_path: str, port: int, *, deadline_s: float = 120.0,
                   env: dict | None = None) -> Iterator[str]:
    """Run `argv` until the block ends; yields http://127.0.0.1:PORT once GET ready_path answers 200."""
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile("w+", prefix="server-", suffix=".log", delete=False)
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            env=env, start_new_session=True)
    try:
        end = time.monotonic() + deadline_s
        while not _answers(base + ready_path):
            if proc.poll() is not None or time.monotonic() > end:
                log.seek(0)
                tail = log.read()[-3000:]
                state = f"exited with {proc.returncode}" if proc.poll() is not None else f"not ready in {deadline_s:g} s"
                raise RuntimeError(f"{' '.join(argv[:4])} ... {state}; its log:\n{tail}")
            time.sleep(0.25)
        yield base
    finally:
        stop(proc)
        log.close()
        Path(log.name).unlink(missing_ok=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the server's process group, then SIGKILL after 10 s."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def chroma_argv(path: Path, port: int) -> list[str]:
    """`chroma run` from this venv (installed with chromadb)."""
    chroma = Path(sys.executable).with_name("chroma")
    return [str(chroma), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]


LLAMA_SERVER_MODEL = "qwen2.5-coder-0.5b-instruct"   # the name the server answers to (--model_alias)


def llama_server_argv(gguf: Path, port: int, threads: int = 2) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server serving one GGUF."""
    return [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", LLAMA_SERVER_MODEL,
            "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--n_threads", str(threads)]


INFINITY = Path(__file__).resolve().parents[2] / ".venv-infinity" / "bin" / "infinity_emb"
EMBED_SERVER_MODEL = "all-MiniLM-L6-v2"          # the name infinity serves the bundled folder under


def require_infinity() -> None:
    """Skip (or fail, when RAG_REQUIRE_SERVERS=1) unless scripts/setup_infinity.sh has installed the server."""
    if INFINITY.exists():
        return
    message = f"{INFINITY} is missing (bash scripts/setup_infinity.sh installs it)"
    if os.environ.get("RAG_REQUIRE_SERVERS") == "1":
        pytest.fail(message + "; RAG_REQUIRE_SERVERS=1 asks for the real servers", pytrace=False)
    pytest.skip(message)


def infinity_argv(model_dir: Path, port: int) -> tuple[list[str], dict]:
    """infinity-emb serving a sentence-transformers folder at /v1/embeddings, offline and without telemetry."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "DO_NOT_TRACK": "1",
           "INFINITY_ANONYMOUS_USAGE_STATS": "0", "OMP_NUM_THREADS": "2"}
    return [str(INFINITY), "v2", "--model-id", str(model_dir), "--served-model-name", EMBED_SERVER_MODEL,
            "--url-prefix", "/v1", "--host", "127.0.0.1", "--port", str(port), "--engine", "torch",
            "--device", "cpu", "--no-bettertransformer", "--log-level", "warning"], env
