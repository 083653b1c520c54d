"""Embeddings from an OpenAI-compatible server: `POST {base_url}/embeddings`, as text-embeddings-inference, vLLM,
Ollama, infinity and llama.cpp's server answer it. Batched requests, several in flight, time-outs, retries."""
from __future__ import annotations

import json
import math
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence
from urllib.parse import urlparse

from rag.errors import ModelError

RETRY_STATUS = {429, 500, 502, 503, 504}    # overloaded or failing for now: worth another try
MAX_WAIT_S = 30.0                           # longest pause between tries, whatever Retry-After asks


class OpenAIEmbedder:
    """Vectors from the server; chunk sizes from a local tokenizer (the server truncates what does not fit).

    `name`, which the store records, is the model name's last part: "sentence-transformers/all-MiniLM-L6-v2"
    served anywhere is the same embedder as the bundled all-MiniLM-L6-v2, so either may query a store built by
    the other, and a store built with another model refuses both.
    """

    def __init__(self, base_url: str, model: str, *, tokenizer_dir: Path, api_key: str = "", batch_size: int = 32,
                 concurrency: int = 4, timeout_s: float = 60.0, connect_timeout_s: float = 5.0, retries: int = 5,
                 backoff_s: float = 0.5):
        import httpx

        if not model:
            raise ModelError("RAG_EMBED_BASE_URL is set but RAG_EMBED_MODEL is not: name the server's embedding model")
        self.base_url, self.model = _check_url(base_url), model
        self.name = model.rstrip("/").rsplit("/", 1)[-1]
        self.batch_size, self.retries, self.backoff_s = max(1, batch_size), max(0, retries), backoff_s
        self._tokenizer, self.max_tokens = _tokenizer(tokenizer_dir)
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
                                  limits=httpx.Limits(max_connections=max(1, concurrency)))
        self._pool = ThreadPoolExecutor(max(1, concurrency), thread_name_prefix="embed")
        self._lock = threading.Lock()       # the Rust tokenizer is shared between ingest workers
        self.dim = len(self._post(["probe"], probe=True)[0])   # a server that is down is one line, before any work

    def tokenize(self, text: str) -> list[str]:
        with self._lock:
            return self._tokenizer.encode(text, add_special_tokens=False).tokens

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Unit-length vectors in input order; requests of `batch_size` texts, `concurrency` of them in flight."""
        texts = list(texts)
        batches = [texts[i:i + self.batch_size] for i in range(0, len(texts), self.batch_size)]
        if len(batches) <= 1:
            return self._post(batches[0]) if batches else []
        return [v for vectors in self._pool.map(self._post, batches) for v in vectors]

    def _post(self, texts: list[str], probe: bool = False) -> list[list[float]]:
        """One request, tried again after a pause on 429, 5xx, a time-out or a lost connection (once if `probe`)."""
        import httpx

        tries = 1 if probe else self.retries + 1
        for attempt in range(1, tries + 1):
            wait = None
            try:
                r = self._http.post(f"{self.base_url}/embeddings", json={"model": self.model, "input": texts})
            except httpx.TransportError as e:     # refused, reset, or one of the time-outs
                why = _transport_reason(e)
            else:
                if r.status_code == 200:
                    return self._vectors(r, len(texts))
                if r.status_code not in RETRY_STATUS:
                    raise ModelError(f"the embedding server at {self.base_url} answered HTTP {r.status_code}: "
                                     f"{r.text[:200]!r}; check RAG_EMBED_MODEL and RAG_EMBED_API_KEY") from None
                why, wait = f"HTTP {r.status_code}", _retry_after(r)
            if attempt < tries:
                pause = wait if wait is not None else self.backoff_s * 2 ** (attempt - 1) * random.uniform(1, 1.5)
                time.sleep(min(pause, MAX_WAIT_S))
        raise ModelError(f"the embedding server at {self.base_url} failed ({why}"
                         + ("); is it running? Start it, or unset RAG_EMBED_BASE_URL to embed on this machine" if probe
                            else f", {tries} tries); the papers written so far are kept: run the same command "
                                 "again when it answers"))

    def _vectors(self, r, n: int) -> list[list[float]]:
        try:
            data = sorted(r.json()["data"], key=lambda d: d.get("index", 0))
            vectors = [[float(x) for x in d["embedding"]] for d in data]
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ModelError(f"{self.base_url}/embeddings did not answer in the OpenAI format "
                             f"({r.text[:120]!r})") from None
        if len(vectors) != n or len({len(v) for v in vectors}) != 1:
            raise ModelError(f"{self.base_url}/embeddings sent {len(vectors)} vectors for {n} texts")
        return [_unit(v) for v in vectors]


def _unit(v: list[float]) -> list[float]:
    """Servers differ on normalising; the store's cosine space and the support checks expect unit length."""
    norm = math.sqrt(sum(x * x for x in v)) or 1.0
    return [x / norm for x in v]


def _check_url(url: str) -> str:
    u = urlparse(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ModelError(f"RAG_EMBED_BASE_URL={url!r} is not a server address; use e.g. http://127.0.0.1:7997/v1")
    return url.rstrip("/")


def _transport_reason(e) -> str:
    import httpx

    if isinstance(e, httpx.ConnectTimeout):
        return "no answer to the connection"
    if isinstance(e, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(e, httpx.ConnectError):
        return "connection refused"
    return type(e).__name__


def _retry_after(r) -> float | None:
    try:
        return max(0.0, float(r.headers.get("retry-after", "")))
    except ValueError:
        return None


def _tokenizer(folder: Path):
    """The folder's tokenizer.json without its truncation and padding (chunking counts every token), and the
    window its sentence-transformers config names (256 if it names none)."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(Path(folder) / "tokenizer.json"))
    except Exception as e:
        raise ModelError(f"no tokenizer for sizing chunks in {folder} ({type(e).__name__}); set RAG_EMBEDDER to a "
                         "folder with a tokenizer.json like the server's model") from None
    tokenizer.no_truncation()
    tokenizer.no_padding()
    try:
        window = int(json.loads((Path(folder) / "sentence_bert_config.json").read_text())["max_seq_length"])
    except (OSError, ValueError, KeyError, TypeError):
        window = 256
    return tokenizer, window
