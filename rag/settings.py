"""One documented settings object. Read from the environment once, at the edge (CLI, UI)."""
from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Mapping

from rag.errors import RagError


@dataclass(frozen=True)
class Settings:
    home: Path = Path(".rag")                # RAG_HOME: store and cached models
    models_home: Path | None = None          # RAG_MODELS_DIR: where converted models are cached (default RAG_HOME/models)
    embedder: str = "bundled"                # RAG_EMBEDDER: "bundled" (all-MiniLM-L6-v2), a sentence-transformers path/id, or "hash" (no model)
    generator: str = "bundled"               # RAG_GENERATOR: "bundled" (Qwen2.5-Coder-0.5B GGUF), a folder, a .gguf file or a hub id
    backend: str = "transformers"            # RAG_BACKEND: transformers, or llamacpp (the optional extra; GGUF files only)
    precision: str = "auto"                  # RAG_PRECISION: auto (bfloat16 where the CPU has it, else float32), bfloat16, float32, int8
    llm_base_url: str = ""                   # RAG_LLM_BASE_URL: an OpenAI-compatible server instead of a local model
    llm_model: str = ""                      # RAG_LLM_MODEL: the model name on that server
    llm_api_key: str = ""                    # RAG_LLM_API_KEY (optional)
    chroma_url: str = ""                     # RAG_CHROMA_URL: a Chroma server (http://host:port) instead of the embedded store
    collection: str = "papers"               # RAG_COLLECTION
    top_k: int = 5                           # papers given to the model
    passages_per_paper: int = 1              # passages of each paper put in the prompt
    passage_words: int = 90                  # RAG_PASSAGE_WORDS: words of each paper's closest sentences in the prompt
    fusion: str = "relative_score"           # RAG_FUSION: how BM25 and dense ranks are fused (llama-index modes)
    max_new_tokens: int = 160                # answer length cap
    max_question_chars: int = 2000
    embed_base_url: str = ""                 # RAG_EMBED_BASE_URL: an OpenAI-compatible server (http://host:port/v1) embeds instead of this machine
    embed_model: str = ""                    # RAG_EMBED_MODEL: the model name on that server; its last part is the embedder's name in the store
    embed_api_key: str = ""                  # RAG_EMBED_API_KEY (optional)
    embed_concurrency: int = 4               # RAG_EMBED_CONCURRENCY: requests in flight; 4 keeps a server busy while answers travel back
    embed_batch: int = 32                    # RAG_EMBED_BATCH: texts per request; 32 is the default batch cap of infinity and TEI

    @property
    def store_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.models_home or self.home / "models"

    @property
    def index_root(self) -> Path:
        """The BM25 indexes: beside the embedded store, or in a folder named for the Chroma server."""
        if not self.chroma_url:
            return self.home / "bm25"
        from urllib.parse import urlparse

        u = urlparse(self.chroma_url if "://" in self.chroma_url else f"http://{self.chroma_url}")
        return self.home / f"bm25-{u.hostname or 'server'}-{u.port or 8000}"


_ENV = {
    "RAG_HOME": "home", "RAG_MODELS_DIR": "models_home", "RAG_EMBEDDER": "embedder", "RAG_GENERATOR": "generator",
    "RAG_BACKEND": "backend", "RAG_PRECISION": "precision", "RAG_LLM_BASE_URL": "llm_base_url", "RAG_LLM_MODEL": "llm_model",
    "RAG_LLM_API_KEY": "llm_api_key", "RAG_COLLECTION": "collection", "RAG_CHROMA_URL": "chroma_url", "RAG_FUSION": "fusion",
    "RAG_TOP_K": "top_k", "RAG_MAX_NEW_TOKENS": "max_new_tokens", "RAG_PASSAGE_WORDS": "passage_words",
    "RAG_EMBED_BASE_URL": "embed_base_url", "RAG_EMBED_MODEL": "embed_model", "RAG_EMBED_API_KEY": "embed_api_key",
    "RAG_EMBED_CONCURRENCY": "embed_concurrency", "RAG_EMBED_BATCH": "embed_batch",
}


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Settings from RAG_* variables, then explicit overrides (CLI flags)."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict = {}
    for var, name in _ENV.items():
        if var in environ and environ[var] != "":
            raw = environ[var]
            kind = types[name]
            if kind in ("int", int):
                try:
                    values[name] = int(raw)
                except ValueError:
                    raise RagError(f"{var} must be a whole number, not {raw!r}") from None
            elif kind in ("bool", bool):
                values[name] = raw.strip().lower() not in ("0", "false", "no", "off")
            elif name in ("home", "models_home"):
                values[name] = Path(raw)
            else:
                values[name] = raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(Settings(), **values)


def set_offline_env() -> None:
    """No model hub, no telemetry: the product runs offline."""
    for var, value in {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": os.environ.get("TQDM_DISABLE", ""),
    }.items():
        if value:
            os.environ.setdefault(var, value)
