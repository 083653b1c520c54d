"""One contract, every embedder: the hashing fake (RAG_EMBEDDER=hash) and the bundled MiniLM, as rag.build makes them.

An embedder returns one unit-length vector per text, all of one size, the same for the same text; related texts
are closer than unrelated ones; it tokenizes with its own tokenizer (chunks are sized by it) and has a name."""
from __future__ import annotations

import math

import pytest

from rag.settings import Settings

EMBEDDERS = [pytest.param("hash"), pytest.param("bundled", marks=pytest.mark.model),
             pytest.param("sentence-transformers", marks=pytest.mark.model)]


@pytest.fixture(scope="module", params=EMBEDDERS)
def embedder(request):
    from rag.build import build_embedder
    from rag.embed import SentenceTransformerEmbedder

    if request.param == "sentence-transformers":           # any other sentence-transformers model runs this way
        return SentenceTransformerEmbedder("bundled")
    return build_embedder(Settings(embedder=request.param))


def test_unit_vectors_of_one_size_one_per_text(embedder):
    texts = ["Hyperbolic embeddings of hierarchies.", "A dataset of 3D renderings.", ""]
    vectors = embedder.embed(texts)
    assert len(vectors) == len(texts) and len({len(v) for v in vectors}) == 1
    for v in vectors[:2]:
        assert math.isclose(math.sqrt(sum(x * x for x in v)), 1.0, rel_tol=1e-3)


def test_the_same_text_gives_the_same_vector(embedder):
    a, b = embedder.embed(["Poincaré embeddings of symbolic data.", "Poincaré embeddings of symbolic data."])
    assert max(abs(x - y) for x, y in zip(a, b)) < 1e-5


def test_related_texts_are_closer_than_unrelated_ones(embedder):
    q, near, far = embedder.embed(["hyperbolic embeddings of hierarchies",
                                   "Embedding hierarchies in hyperbolic space.",
                                   "A recipe for sourdough bread with rye flour."])
    cos = lambda a, b: sum(x * y for x, y in zip(a, b))
    assert cos(q, near) > cos(q, far)


def test_tokenizes_with_its_own_tokenizer_and_has_a_name(embedder):
    assert embedder.tokenize("Hyperbolic embeddings.") and isinstance(embedder.max_tokens, int)
    assert isinstance(embedder.name, str) and embedder.name


@pytest.mark.model
def test_the_bundled_folder_run_by_transformers_gives_sentence_transformers_vectors():
    """The product loads MiniLM with transformers (no sentence-transformers import at start-up): same vectors."""
    from rag.embed import SentenceTransformerEmbedder, TransformersEmbedder, bundled_embedder_path

    texts = ["Hyperbolic embeddings of hierarchies.", "A dataset of 3D renderings " * 60, ""]
    ours = TransformersEmbedder(bundled_embedder_path(), name="all-MiniLM-L6-v2", precision="float32").embed(texts)
    theirs = SentenceTransformerEmbedder("bundled", precision="float32").embed(texts)
    assert max(abs(a - b) for u, v in zip(ours, theirs) for a, b in zip(u, v)) < 1e-5
