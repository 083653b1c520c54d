"""HybridRetriever: BM25 and dense rankings fused by llama-index, one hit per paper; and query-word coverage."""
from __future__ import annotations

import pytest

from rag.errors import InputError
from rag.retrieve import FUSION_MODES, HybridRetriever, coverage
from rag.settings import DEFAULTS


@pytest.fixture()
def retriever(tiny_store):
    _, store, embedder = tiny_store
    return HybridRetriever(store, embedder)


def test_defaults_are_the_products(retriever):
    assert (retriever.fusion, retriever.passages_per_paper, retriever.candidates) == \
        (DEFAULTS.fusion, DEFAULTS.passages_per_paper, DEFAULTS.candidates)


@pytest.mark.parametrize("fusion", FUSION_MODES)
def test_every_fusion_mode_ranks_the_paper_that_answers_first(tiny_store, fusion):
    _, store, embedder = tiny_store
    hits = HybridRetriever(store, embedder, fusion=fusion).retrieve("Poincaré ball hyperbolic space embeddings", 3)
    assert hits[0].paper.title.startswith("Poincaré Embeddings")
    assert len({h.paper.paper_id for h in hits}) == len(hits) == 3          # one hit per paper
    assert all(a.score >= b.score for a, b in zip(hits, hits[1:]))          # best first
    assert hits[0].dense > 0 and hits[0].bm25 > 0 and hits[0].passages


def test_a_word_only_bm25_knows_still_finds_its_paper(retriever):
    """BM25 catches an exact rare term ("3DIEBench") even where the dense ranking is unsure."""
    dense_only = retriever.retrieve("3DIEBench", 1, rankings=("dense",))
    hybrid = retriever.retrieve("3DIEBench", 1)
    assert hybrid[0].paper.title.startswith("Self-supervised learning of Split")
    assert dense_only    # both rankings are available separately (eval compares them)


def test_an_unknown_fusion_mode_is_one_line(tiny_store):
    _, store, embedder = tiny_store
    with pytest.raises(InputError, match="RAG_FUSION must be one of"):
        HybridRetriever(store, embedder, fusion="average")


def test_coverage_is_the_idf_weighted_share_of_query_words_found(retriever):
    hits = retriever.retrieve("Poincaré ball hyperbolic space", 3)
    assert coverage("Poincaré ball hyperbolic space", hits, retriever.bm25) == pytest.approx(1.0)
    assert coverage("children video hours", hits, retriever.bm25) == 0.0        # in the corpus, not in these papers
    assert 0.0 < coverage("Poincaré children video", hits, retriever.bm25) < 1.0
    # A word no paper has is not in BM25's vocabulary, so it does not count at all (see rag.answer.policy).
    assert coverage("Poincaré sourdough", hits, retriever.bm25) == pytest.approx(1.0)


def test_papers_written_after_the_retriever_was_built_are_found_and_refresh_adds_them_to_bm25(tiny_store, retriever):
    from rag.ingest import ingest
    from rag.types import Paper

    _, store, embedder = tiny_store
    ingest([Paper("new", "Sourdough Fermentation Dynamics", "We model sourdough bread fermentation.")], store,
           embedder, progress=False)
    first = retriever.retrieve("sourdough bread fermentation", 3)[0]
    assert first.paper.paper_id == "new" and first.bm25 == 0.0     # the dense search reads the store as it is now
    retriever.refresh()
    first = retriever.retrieve("sourdough bread fermentation", 1)[0]
    assert first.paper.paper_id == "new" and first.bm25 > 0        # and BM25 knows it after a refresh
