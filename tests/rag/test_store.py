from dataclasses import replace

import pytest

from rag.embed import HashEmbedder
from rag.errors import StoreError
from rag.ingest import chunk_papers, ingest, rebuild
from rag.store import ChromaStore, open_client


@pytest.fixture(params=["embedded", "server"])
def client(request, tmp_path):
    """An empty Chroma client: embedded in tmp_path, or an HttpClient of a real `chroma run` server."""
    if request.param == "embedded":
        return open_client(tmp_path)
    client = open_client(url=request.getfixturevalue("chroma_server"))
    for collection in client.list_collections():   # one server serves every test: start each empty
        client.delete_collection(collection.name)
    return client


def test_reingest_is_idempotent_and_replaces_changed_papers(client, tiny_papers):
    embedder = HashEmbedder()
    store = ChromaStore(client, "papers", embedder_name=embedder.name)
    first = ingest(tiny_papers, store, embedder, progress=False)
    n = store.count_chunks()
    again = ingest(tiny_papers, store, embedder, progress=False)
    assert first.added == len(tiny_papers) and again.unchanged == len(tiny_papers) and store.count_chunks() == n
    changed = [replace(tiny_papers[0], abstract="A new abstract. Short.")]
    report = ingest(changed, store, embedder, progress=False)
    assert report.updated == 1
    assert store.papers([tiny_papers[0].paper_id])[tiny_papers[0].paper_id].abstract == "A new abstract. Short."


class _FailingEmbedder(HashEmbedder):
    def __init__(self, fail_after: int):
        super().__init__()
        self.calls, self.fail_after = 0, fail_after

    def embed(self, texts):
        self.calls += 1
        if self.calls > self.fail_after:
            raise KeyboardInterrupt
        return super().embed(texts)


def test_interrupted_ingest_keeps_whole_papers_and_resumes(client, tiny_papers):
    store = ChromaStore(client, "papers", embedder_name="hash-embedder")
    with pytest.raises(KeyboardInterrupt):
        ingest(tiny_papers, store, _FailingEmbedder(fail_after=1), batch_size=2, progress=False)
    done = store.paper_hashes()
    assert len(done) == 2                     # the first batch, whole
    report = ingest(tiny_papers, store, HashEmbedder(), batch_size=2, progress=False)
    assert report.unchanged == 2 and report.added == len(tiny_papers) - 2
    assert store.count_chunks() == len(chunk_papers(tiny_papers, HashEmbedder()))


def test_interrupted_rebuild_leaves_the_old_store_in_place(client, tiny_papers):
    store = ChromaStore(client, "papers", embedder_name="hash-embedder")
    ingest(tiny_papers[:2], store, HashEmbedder(), progress=False)
    with pytest.raises(KeyboardInterrupt):
        rebuild(tiny_papers, client, "papers", _FailingEmbedder(fail_after=0), progress=False)
    assert len(ChromaStore(client, "papers").paper_hashes()) == 2
    rebuild(tiny_papers, client, "papers", HashEmbedder(), progress=False)
    assert len(ChromaStore(client, "papers").paper_hashes()) == len(tiny_papers)


def test_store_from_another_embedder_or_version_names_the_rebuild_command(client, tiny_papers):
    ingest(tiny_papers[:1], ChromaStore(client, "papers", embedder_name="hash-embedder"), HashEmbedder(),
           progress=False)
    with pytest.raises(StoreError, match="rag ingest --reset"):
        ChromaStore(client, "papers", embedder_name="other-model")
    client.get_or_create_collection("old", metadata={"schema": 0}, embedding_function=None)
    with pytest.raises(StoreError, match="another version.*rag ingest --reset"):
        ChromaStore(client, "old")


def test_corrupted_store_file_is_a_store_error(tmp_path):
    (tmp_path / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="rag ingest --reset"):
        ChromaStore(open_client(tmp_path), "papers")


def test_unreachable_or_silent_server_is_one_store_error_within_seconds():
    import socket
    import time

    from tests.support.servers import free_port

    start = time.monotonic()
    with pytest.raises(StoreError, match=r"cannot reach a Chroma server at http://127.0.0.1:\d+.*chroma run"):
        open_client(url=f"http://127.0.0.1:{free_port()}")          # nothing listens there
    with socket.socket() as silent:                                   # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(StoreError, match="did not answer within 1 s"):
            open_client(url=f"http://127.0.0.1:{silent.getsockname()[1]}", connect_timeout_s=1)
    assert time.monotonic() - start < 10
    with pytest.raises(StoreError, match="not a server address"):
        open_client(url="ftp://example")


@pytest.mark.slow
def test_requests_to_a_server_are_time_limited_and_a_lost_server_is_a_store_error(tmp_path, tiny_papers):
    from tests.support.servers import chroma_argv, free_port, running_server

    port = free_port()
    with running_server(chroma_argv(tmp_path / "db", port), "/api/v2/heartbeat", port, deadline_s=60) as url:
        client = open_client(url=url, timeout_s=30)
        assert client._server._session.timeout.read == 30    # chromadb's own session has no time-out
        store = ChromaStore(client, "papers", embedder_name="hash-embedder")
        ingest(tiny_papers, store, HashEmbedder(), progress=False)
    with pytest.raises(StoreError, match="lost the Chroma server"):
        store.count_chunks()


def test_search_explores_ef_search_candidates_also_in_stores_made_before(client):
    from rag.store import EF_SEARCH, SCHEMA

    assert ChromaStore(client, "new")._col.configuration["hnsw"]["ef_search"] == EF_SEARCH
    client.create_collection("old", configuration={"hnsw": {"space": "cosine"}}, embedding_function=None,
                             metadata={"schema": SCHEMA, "embedder": ""})       # Chroma's default ef_search
    assert client.get_collection("old").configuration["hnsw"]["ef_search"] < EF_SEARCH
    ChromaStore(client, "old")
    assert client.get_collection("old").configuration["hnsw"]["ef_search"] == EF_SEARCH
