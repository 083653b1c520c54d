"""Shared test data: the repository root, the tiny corpus, and where converted models are cached."""
from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def shared_models_dir() -> Path:
    """Converted models are cached once for all model tests: $RAG_MODELS_DIR, else <repo>/.rag/models."""
    return Path(os.environ.get("RAG_MODELS_DIR") or REPO / ".rag" / "models")


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
