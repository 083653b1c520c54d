"""A running chat sees papers that another process ingests, at its next question, without a restart.

The first test keeps a retriever open in this process while `rag ingest` runs as a child process. The one
marked `model` runs the real `rag ui` and `rag ingest` as two processes and asks through Gradio's HTTP API.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from eval.bench import synthetic as bench
from rag.build import build_embedder, index_folder, open_store
from rag.ingest import ingest
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.types import Paper

NEW = Paper("2512.00042", "Zorvex: a cryogenic quantum annealer for protein design",
            "We build Zorvex, a cryogenic quantum annealer for protein design. The Zorvex annealer runs on 7,312 "
            "superconducting qubits and folds designed proteins 40 times faster than simulated annealing.",
            year=2025, categories="quant-ph")
QUESTION = "How many qubits does the Zorvex annealer run on?"


def _new_papers(path):
    """The issue's case: 40 papers added while the chat runs, one of them the answer."""
    records = [bench.arxiv_record(p) for p in bench.synthetic_papers(39, seed=7)]
    records.append({"id": NEW.paper_id, "title": NEW.title, "abstract": NEW.abstract, "categories": NEW.categories,
                    "update_date": "2025-12-01"})
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _rag(env, *args):
    return subprocess.run([sys.executable, "-m", "rag.cli", *args], env=env, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_an_open_retriever_sees_papers_another_process_ingested(tmp_path, tiny_papers):
    settings = Settings(home=tmp_path, embedder="hash")
    embedder = build_embedder(settings)
    _, store = open_store(settings, embedder)
    ingest(tiny_papers, store, embedder, progress=False, index=index_folder(settings))
    retriever = HybridRetriever(store, embedder, index=index_folder(settings))
    assert NEW.paper_id not in {h.paper.paper_id for h in retriever.retrieve(QUESTION, 5)}
    env = {**os.environ, "RAG_HOME": str(tmp_path), "RAG_EMBEDDER": "hash", "TQDM_DISABLE": "1"}
    done = _rag(env, "ingest", "--source", str(_new_papers(tmp_path / "new.jsonl")))
    assert done.returncode == 0 and done.stdout.startswith("40 records read: 40 added"), done.stderr[-500:]
    hits = retriever.retrieve(QUESTION, 5)                              # the next question, same process
    assert hits[0].paper.paper_id == NEW.paper_id and "7,312" in hits[0].paper.abstract
    assert hits[0].bm25 > 0 and retriever.n_papers == len(tiny_papers) + 40     # the new BM25 index is in use


@pytest.mark.model
def test_rag_ui_answers_about_papers_ingested_while_it_runs(tmp_path):
    from gradio_client import Client

    from tests.support.data import shared_models_dir
    from eval.bench.ui_server import running_ui

    home = tmp_path / "home"
    home.mkdir()
    env = {"RAG_MODELS_DIR": str(shared_models_dir()), "TQDM_DISABLE": "1"}
    with running_ui(home, env=env) as server:
        def ask() -> tuple[str, str]:
            """In a new chat: in the same one, the follow-up logic keeps the earlier refusal's papers in front."""
            client = Client(server.url, verbose=False)
            _, chat, sources, _, _ = client.predict(QUESTION, 5, 160, "Ask", "", [], api_name="/respond")
            content = chat[-1]["content"]
            text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
            return text, sources

        before, sources = ask()
        assert "7,312" not in before and NEW.title not in sources        # the sources panel echoes the question
        done = _rag({**os.environ, **env, "RAG_HOME": str(home)}, "ingest", "--source",
                    str(_new_papers(tmp_path / "new.jsonl")))
        assert done.returncode == 0 and done.stdout.startswith("40 records read: 40 added"), done.stderr[-500:]
        after, sources = ask()
        assert NEW.title in sources and "7,312" in after, (after, server.log.read_text()[-2000:])
