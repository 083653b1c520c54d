"""Embeddings from an OpenAI-compatible server (RAG_EMBED_BASE_URL).

The first tests run a scripted HTTP server on loopback (real sockets, replies in a given order: 503, 429, a
silent one) to check batching, order, retries and the one-line errors. The ones marked `model` run the real
infinity-emb server on the bundled MiniLM folder: its vectors match the local embedder's, and a store
ingested through it answers like a local one.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from eval.bench import synthetic as bench
from eval.bench.cli import QUESTIONS
from rag.embed import HashEmbedder, bundled_embedder_path
from rag.embed_server import OpenAIEmbedder
from rag.errors import ModelError
from rag.ingest import ingest
from rag.store import ChromaStore, open_client
from tests.support.servers import free_port

TEXTS = [f"text number {i} about hyperbolic embeddings and {i} classes" for i in range(10)]


class ScriptedServer:
    """`POST /v1/embeddings` on 127.0.0.1 answering with the statuses of `script` in turn, then 200s.
    A 200 carries the hashing embedder's vectors times 3, in reverse order (the client must sort by index)."""

    def __init__(self, script=(), delay_s: float = 0.0):
        self.script, self.delay_s, self.requests, self.in_flight, self.max_in_flight = list(script), delay_s, 0, 0, 0
        self.lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                texts = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["input"]
                with server.lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    status = server.script.pop(0) if server.script else 200
                time.sleep(server.delay_s)
                data = [{"index": i, "embedding": [3 * x for x in v]} for i, v in enumerate(HashEmbedder().embed(texts))]
                body = json.dumps({"data": data[::-1]} if status == 200 else {"error": "busy"}).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                with server.lock:
                    server.in_flight -= 1
        return Handler

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def scripted():
    servers = []

    def start(script=(), delay_s=0.0):
        servers.append(ScriptedServer(script, delay_s))
        return servers[-1]
    yield start
    for s in servers:
        s.close()


def _embedder(url, **kw) -> OpenAIEmbedder:
    return OpenAIEmbedder(url, "sentence-transformers/all-MiniLM-L6-v2", tokenizer_dir=bundled_embedder_path(),
                          **{"backoff_s": 0.01, **kw})


def test_vectors_come_back_in_input_order_unit_length_and_several_requests_in_flight(scripted):
    server = scripted(delay_s=0.2)
    embedder = _embedder(server.url, batch_size=4, concurrency=3)
    assert embedder.name == "all-MiniLM-L6-v2" and embedder.max_tokens == 256 and embedder.dim == 256
    vectors = embedder.embed(TEXTS)
    expected = HashEmbedder().embed(TEXTS)
    assert max(abs(a - b) for v, w in zip(vectors, expected) for a, b in zip(v, w)) < 1e-12
    assert server.requests == 1 + 3 and server.max_in_flight == 3        # the probe, then 3 batches at once


def test_429_and_5xx_are_tried_again(scripted):
    server = scripted([200, 503, 429, 502])
    embedder = _embedder(server.url, batch_size=100)
    assert len(embedder.embed(TEXTS)) == len(TEXTS) and server.requests == 5


def test_other_client_errors_are_one_line_and_not_tried_again(scripted):
    server = scripted([200, 401])
    embedder = _embedder(server.url)
    with pytest.raises(ModelError, match="answered HTTP 401.*RAG_EMBED_API_KEY") as e:
        embedder.embed(TEXTS)
    assert "\n" not in str(e.value) and server.requests == 2


def test_a_server_that_is_down_is_one_line_at_once():
    t0 = time.monotonic()
    with pytest.raises(ModelError, match=r"failed \(connection refused\); is it running\?.*unset RAG_EMBED_BASE_URL"):
        _embedder(f"http://127.0.0.1:{free_port()}/v1")
    assert time.monotonic() - t0 < 5


def test_a_silent_server_times_out(scripted):
    server = scripted(delay_s=1.0)
    with pytest.raises(ModelError, match=r"no answer in time"):
        _embedder(server.url, timeout_s=0.3)


def test_a_server_lost_during_an_ingest_keeps_the_finished_papers_and_the_rerun_resumes(tmp_path, scripted):
    papers = bench.synthetic_papers(40)
    failing = scripted([200, 200] + [503] * 10)           # the probe, one batch, then a failing server
    store = ChromaStore(open_client(tmp_path), "papers", embedder_name="all-MiniLM-L6-v2")
    with pytest.raises(ModelError, match=r"HTTP 503, 3 tries\); the papers written so far are kept"):
        ingest(papers, store, _embedder(failing.url, retries=2), batch_size=8, progress=False)
    assert len(store.paper_hashes()) == 8
    report = ingest(papers, store, _embedder(scripted().url), batch_size=8, workers=2, progress=False)
    assert (report.unchanged, report.added) == (8, 32)


@pytest.mark.slow
def test_the_command_says_one_line_when_the_server_is_down(tmp_path):
    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "RAG_EMBED_BASE_URL": f"http://127.0.0.1:{free_port()}/v1",
           "RAG_EMBED_MODEL": "all-MiniLM-L6-v2"}
    proc = subprocess.run([sys.executable, "-m", "rag.cli", "ingest"], env=env, capture_output=True, text=True,
                          timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("rag: error: the embedding server at http://127.0.0.1:") and "connection refused" in lines[0]
    assert not (tmp_path / "home" / "chroma").exists()


# --- the real server: infinity-emb serving the bundled MiniLM folder ---------------------------------------
@pytest.fixture(scope="module")
def infinity():
    """infinity-emb on a free loopback port for this module; its /v1 base URL."""
    from tests.support.servers import infinity_argv, require_infinity, running_server

    require_infinity()
    port = free_port()
    argv, env = infinity_argv(bundled_embedder_path(), port)
    with running_server(argv, "/v1/models", port, deadline_s=240, env=env) as base:
        yield f"{base}/v1"


def _bundled(n: int):
    from rag.corpus import load_corpus

    return load_corpus()[:n]


def _bundled_texts(n: int = 40) -> list[str]:
    return [p.title for p in _bundled(n)] + [f"{p.title}. {p.abstract}" for p in _bundled(n)]   # many > 256 tokens


@pytest.mark.model
def test_infinity_vectors_match_the_local_embedder_within_1e_4(infinity):
    from rag.build import build_embedder
    from rag.settings import Settings

    texts = _bundled_texts()
    served = OpenAIEmbedder(infinity, "all-MiniLM-L6-v2", tokenizer_dir=bundled_embedder_path()).embed(texts)
    local = build_embedder(Settings(precision="float32")).embed(texts)   # bfloat16 is within cosine 0.998 only
    assert len(served) == len(local) == 80
    assert max(abs(a - b) for v, w in zip(served, local) for a, b in zip(v, w)) < 1e-4


@pytest.mark.model
def test_a_store_ingested_through_infinity_answers_like_a_local_one(tmp_path, infinity):
    from tests.support.data import shared_models_dir

    env = {**os.environ, "RAG_HOME": str(tmp_path / "served"), "RAG_EMBED_BASE_URL": infinity,
           "RAG_EMBED_MODEL": "all-MiniLM-L6-v2", "RAG_MODELS_DIR": str(shared_models_dir()), "TQDM_DISABLE": "1"}
    source = tmp_path / "papers.jsonl"       # the first 60 bundled abstracts (3DIEBench's among them): quick
    source.write_text("".join(json.dumps({"title": p.title, "abstract": p.abstract}) + "\n" for p in _bundled(60)))
    rag = [sys.executable, "-m", "rag.cli"]
    done = subprocess.run([*rag, "ingest", "--source", str(source), "--workers", "2"], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0 and done.stdout.startswith("60 records read: 60 added"), done.stderr[-800:]
    served, local = _retriever(tmp_path / "served", infinity), _retriever(tmp_path / "local", None)
    assert served.store.count_chunks() == local.store.count_chunks()
    for question, _ in QUESTIONS[:6]:
        assert [h.paper.paper_id for h in served.retrieve(question, 5)] == \
            [h.paper.paper_id for h in local.retrieve(question, 5)], question
    asked = subprocess.run([*rag, "ask", "--json", "How many object classes does 3DIEBench have?"], env=env,
                           capture_output=True, text=True, timeout=600)
    answer = json.loads(asked.stdout)
    assert not answer["abstained"] and "55" in answer["answer"], answer
    assert any("Split Invariant Equivariant" in c["title"] for c in answer["citations"])
    assert answer["model"]["embedder"] == "all-MiniLM-L6-v2"


def _retriever(home, server_url):
    """A retriever over a store under `home`: ingested locally (float32 MiniLM) when there is no server."""
    from rag.build import build_embedder, index_folder, open_store
    from rag.retrieve import HybridRetriever
    from rag.settings import Settings

    settings = Settings(home=home, precision="float32", embed_base_url=server_url or "",
                        embed_model="all-MiniLM-L6-v2" if server_url else "")
    embedder = build_embedder(settings)
    _, store = open_store(settings, embedder)
    if not server_url:
        ingest(_bundled(60), store, embedder, progress=False, index=index_folder(settings))
    return HybridRetriever(store, embedder, fusion=settings.fusion, index=index_folder(settings))
