"""The assistant on a real `chroma run` server: `rag ingest` and `rag ask` with RAG_CHROMA_URL, real models."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.data import REPO, TINY, shared_models_dir

pytestmark = pytest.mark.model
SIE = "Self-supervised learning of Split Invariant Equivariant representations"


def _rag(env, *args):
    out = subprocess.run([sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True,
                         timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_ingest_and_ask_through_a_chroma_server(chroma_server, tmp_path, tiny_papers):
    from rag.store import open_client

    env = dict(os.environ, RAG_HOME=str(tmp_path / "home"), RAG_CHROMA_URL=chroma_server,
               RAG_COLLECTION="cli_e2e", RAG_MODELS_DIR=str(shared_models_dir()))
    corpus = tmp_path / "tiny.txt"
    corpus.write_text(TINY, encoding="utf-8")
    n = len(tiny_papers)

    # Idempotent re-ingest and --reset on a server are in test_store.py, which runs on both kinds of client.
    assert f"{n} added" in _rag(env, "ingest", "--source", str(corpus))
    assert open_client(url=chroma_server).get_collection("cli_e2e").count() >= n

    data = json.loads(_rag(env, "ask", "How many object classes does the 3DIEBench dataset have?", "--json"))
    assert not data["abstained"], data["answer"]
    assert "55" in data["answer"]
    assert data["sources"][0]["title"] == SIE
    assert any(c["title"] == SIE and c["supported"] for c in data["citations"]), data["citations"]
    assert not (tmp_path / "home" / "chroma").exists()    # nothing went to an embedded store


def test_unreachable_chroma_server_is_one_line_from_the_cli(tmp_path):
    from tests.support.servers import free_port

    env = dict(os.environ, RAG_HOME=str(tmp_path), RAG_CHROMA_URL=f"http://127.0.0.1:{free_port()}")
    out = subprocess.run([sys.executable, "-m", "rag.cli", "ingest"], env=env, capture_output=True, text=True,
                         timeout=120, cwd=REPO)
    assert out.returncode == 1
    assert out.stderr.strip().startswith("rag: error: cannot reach a Chroma server at http://127.0.0.1:")
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
