"""A generator backed by any OpenAI-compatible chat-completions server (vLLM, Ollama, llama.cpp server, TGI)."""
from __future__ import annotations

import json
from typing import Iterator

from rag.errors import ModelError
from rag.types import Message


class OpenAIGenerator:
    """Streams `POST {base_url}/chat/completions` with server-sent events; greedy (temperature 0)."""

    def __init__(self, base_url: str, model: str, *, api_key: str = "", timeout_s: float = 120.0,
                 connect_timeout_s: float = 5.0):
        if not model:
            raise ModelError("RAG_LLM_BASE_URL is set but RAG_LLM_MODEL is not: name the server's model")
        self.base_url = base_url.rstrip("/")
        self.model, self.api_key = model, api_key
        self.name = f"{model} @ {self.base_url}"
        self._timeout = (connect_timeout_s, timeout_s)

    def stream(self, messages: list[Message], *, max_new_tokens: int) -> Iterator[str]:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = {"model": self.model, "messages": list(messages), "max_tokens": max_new_tokens,
                "temperature": 0.0, "stream": True}
        timeout = httpx.Timeout(self._timeout[1], connect=self._timeout[0])
        try:
            with httpx.stream("POST", f"{self.base_url}/chat/completions", json=body, headers=headers,
                              timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise ModelError(f"LLM server {self.base_url} answered HTTP {response.status_code}: "
                                     f"{response.text[:200]!r}; check RAG_LLM_MODEL and RAG_LLM_API_KEY")
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    try:
                        choice = json.loads(data)["choices"][0]
                    except (json.JSONDecodeError, KeyError, IndexError):
                        continue
                    piece = (choice.get("delta") or {}).get("content") or ""
                    if piece:
                        yield piece
        except httpx.TimeoutException:
            raise ModelError(f"LLM server {self.base_url} timed out; is it running and serving {self.model}?") from None
        except httpx.TransportError as e:
            raise ModelError(f"cannot reach the LLM server at {self.base_url} ({type(e).__name__}); "
                             "start it or fix RAG_LLM_BASE_URL") from None
