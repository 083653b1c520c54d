"""The saved BM25 index: same answers as the one built in memory, opened without reading the store, and
kept fresh by ingest (rebuilt once at its end, left alone when nothing changed)."""
from __future__ import annotations

import pytest

from rag.bm25_index import BM25Index
from rag.embed import HashEmbedder
from rag.filters import where_filter
from rag.ingest import ingest
from rag.live_index import IndexFolder
from rag.retrieve import HybridRetriever
from rag.store import ChromaStore, open_client
from rag.types import Paper

QUERIES = ["hyperbolic space hierarchies", "3DIEBench classes", "language model truthful answers", "zzz unknown"]


@pytest.fixture()
def indexed(tmp_path, tiny_papers):
    """The tiny corpus ingested with an index folder, as `rag ingest` does it."""
    dated = [Paper(p.paper_id, p.title, p.abstract, year=2020 + i % 3, categories=["cs.LG", "cs.CV stat.ML"][i % 2])
             for i, p in enumerate(tiny_papers)]
    embedder = HashEmbedder()
    store = ChromaStore(open_client(tmp_path / "chroma"), "papers", embedder_name=embedder.name)
    folder = IndexFolder(tmp_path / "bm25", "papers")
    ingest(dated, store, embedder, progress=False, index=folder)
    return store, embedder, folder


def test_saved_index_answers_like_the_one_built_in_memory(indexed):
    store, _, folder = indexed
    built, loaded = BM25Index.build(store.iter_chunks()), folder.load()
    assert loaded is not None and loaded.size == built.size == store.count_chunks()
    for q in QUERIES:
        assert loaded.search(q, 5) == built.search(q, 5)
        assert loaded.terms(q) == built.terms(q) and [loaded.idf(t) for t in loaded.terms(q)] == \
            [built.idf(t) for t in built.terms(q)]
    where = where_filter((2021, 2022), ["cs.CV"])
    assert loaded.search("embeddings", 10, where) == built.search("embeddings", 10, where)
    assert loaded.facets() == built.facets() == {"years": [2022, 2021, 2020], "categories": ["cs.CV", "cs.LG", "stat.ML"]}
    assert loaded.n_papers == 6 and loaded.search("zzz unknown", 5) == []


def test_a_start_opens_the_saved_index_without_reading_the_store(indexed, monkeypatch):
    store, embedder, folder = indexed
    assert folder.is_fresh(store)

    def no_full_read(*a, **kw):
        raise AssertionError("the start read every chunk")
    monkeypatch.setattr(ChromaStore, "iter_chunks", no_full_read)
    retriever = HybridRetriever(store, embedder, index=folder)
    hits = retriever.retrieve("How many classes does 3DIEBench have?", 3)
    assert "3DIEBench" in hits[0].paper.abstract and hits[0].passages and hits[0].bm25 > 0
    assert retriever.n_papers == 6


def test_ingest_rebuilds_the_index_once_at_the_end_and_not_when_nothing_changed(indexed, tiny_papers):
    store, embedder, folder = indexed
    before = folder.signature()
    ingest(tiny_papers, store, embedder, progress=False, index=folder)         # every paper unchanged
    assert folder.signature() == before and folder.is_fresh(store)
    new = Paper("n1", "Quantum annealing schedules", "We tune annealing schedules on 5000 qubits.", year=2024)
    report = ingest([new], store, embedder, progress=False, index=folder)
    assert report.added == 1 and folder.is_fresh(store)
    stamp, index_file = folder.signature()
    assert stamp != before[0] and index_file != before[1]                      # a batch landed; a new index
    assert folder.load().search("annealing qubits", 3)[0][0].startswith("n1:")


def test_a_stale_index_is_used_until_the_next_ingest_and_a_missing_one_is_built(indexed, capsys):
    store, embedder, folder = indexed
    extra = Paper("x1", "Tropical cyclone forecasting", "Cyclone tracks from satellite images.", year=2024)
    ingest([extra], store, embedder, progress=False)                         # no index folder: it goes stale
    assert not folder.is_fresh(store)
    retriever = HybridRetriever(store, embedder, index=folder, say=print)
    assert "older than the store" in capsys.readouterr().out
    hits = retriever.retrieve("cyclone forecasting satellite", 2)
    assert hits[0].paper.paper_id == "x1" and hits[0].bm25 == 0.0           # found by the dense search alone
    folder.drop()
    HybridRetriever(store, embedder, index=folder)
    assert folder.is_fresh(store) and folder.load().search("cyclone", 1)[0][0].startswith("x1:")


@pytest.mark.slow
def test_with_a_chroma_server_the_index_lives_in_a_folder_named_for_it(tmp_path, chroma_server, tiny_papers):
    from rag.build import index_folder, open_store
    from rag.settings import Settings

    port = chroma_server.rsplit(":", 1)[1]
    settings = Settings(home=tmp_path, embedder="hash", chroma_url=chroma_server, collection="bm25-beside-server")
    embedder = HashEmbedder()
    client, store = open_store(settings, embedder)
    ingest(tiny_papers, store, embedder, progress=False, index=index_folder(settings))
    assert settings.index_root == tmp_path / f"bm25-127.0.0.1-{port}"
    assert (settings.index_root / "bm25-beside-server" / "meta.json").is_file() and not (tmp_path / "chroma").exists()
    retriever = HybridRetriever(store, embedder, index=index_folder(settings))
    ingest([Paper("late1", "Glacier melt sensors", "Sensors on glaciers measure melt.")], store, embedder,
           progress=False, index=index_folder(settings))
    assert retriever.retrieve("glacier melt sensors", 1)[0].paper.paper_id == "late1"     # a live view
    client.delete_collection("bm25-beside-server")
