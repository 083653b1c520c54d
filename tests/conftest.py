"""Shared fixtures: a tiny corpus in a temporary Chroma store with the hashing fake embedder."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from pathlib import Path  # noqa: E402

from rag.corpus import parse_plain  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


def shared_models_dir() -> Path:
    """Converted models are cached once for all model tests: $RAG_MODELS_DIR, else <repo>/.rag/models."""
    return Path(os.environ.get("RAG_MODELS_DIR") or REPO / ".rag" / "models")
from rag.types import Paper  # noqa: E402

TINY = """Get trending papers in your email inbox once a day!
Get trending papers in your email inbox!
SubscribeSelf-supervised learning of Split Invariant Equivariant representations
We introduce 3DIEBench, a dataset of renderings of 3D models from 55 classes with more than 2.5 million images. We propose SIE, a hypernetwork-based predictor that learns equivariant representations.
Poincaré Embeddings for Learning Hierarchical Representations
We embed symbolic data into hyperbolic space, an n-dimensional Poincaré ball. Poincaré embeddings outperform Euclidean embeddings on data with latent hierarchies in representation capacity and generalization.
The Linear Representation Hypothesis and the Geometry of Large Language Models
We formalize the linear representation hypothesis using counterfactual pairs. We find a causal inner product that respects language structure, experimenting with LLaMA-2.
Grounded Language Acquisition From Object and Action Imagery
We train a model on images of objects and actions paired with words collected from children. The model learns word meanings from 61 hours of video.
Discovering Latent Knowledge in Language Models Without Supervision
We find a direction in activation space that satisfies logical consistency properties, recovering truthful answers from language model activations without labels. The method outperforms zero-shot accuracy by 4 percent.
HYPO: Hyperspherical Out-of-Distribution Generalization
We learn domain-invariant features in hyperspherical space, with intra-class variation low and inter-class separation high, improving out-of-distribution generalization on benchmarks.
"""


@pytest.fixture()
def tiny_papers() -> list[Paper]:
    return list(parse_plain(TINY, "tiny.txt"))


@pytest.fixture()
def tiny_store(tmp_path, tiny_papers):
    from rag.embed import HashEmbedder
    from rag.ingest import ingest
    from rag.store import ChromaStore, open_client

    embedder = HashEmbedder()
    client = open_client(tmp_path / "chroma")
    store = ChromaStore(client, "papers", embedder_name=embedder.name)
    ingest(tiny_papers, store, embedder, progress=False)
    return client, store, embedder


@pytest.fixture()
def make_pipeline(tiny_store):
    """A real pipeline over the tiny store with a FakeGenerator that replies from a queue."""
    from rag.citations import SupportChecker
    from rag.generate import FakeGenerator
    from rag.pipeline import Pipeline
    from rag.retrieve import HybridRetriever

    _, store, embedder = tiny_store

    def make(replies=(), **kw):
        generator = FakeGenerator(replies)
        retriever = HybridRetriever(store, embedder)
        return Pipeline(retriever, generator, SupportChecker(embedder), **kw), generator
    return make


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 (free port, temporary path) for the whole session; its URL."""
    from tests.servers import chroma_argv, free_port, running_server

    port = free_port()
    with running_server(chroma_argv(tmp_path_factory.mktemp("chroma-server"), port), "/api/v2/heartbeat", port,
                        deadline_s=60) as url:
        yield url
