"""llama-index wrappers around our embedder and generator, for the baseline pipeline (imports llama-index)."""
from __future__ import annotations

from typing import Any, Iterator

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import CompletionResponse, CustomLLM, LLMMetadata
from llama_index.core.llms.callbacks import llm_completion_callback
from pydantic import PrivateAttr

from rag.types import Message


class EmbedderAdapter(BaseEmbedding):
    """Our Embedder as a llama-index embed model."""
    _embedder: Any = PrivateAttr()

    def __init__(self, embedder, **kw):
        super().__init__(model_name=getattr(embedder, "name", "embedder"), **kw)
        self._embedder = embedder

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._embedder.embed([query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._embedder.embed([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._embedder.embed(texts)

class GeneratorLLM(CustomLLM):
    """Our Generator as a llama-index completion LLM: the prompt goes in as one user message."""
    max_new_tokens: int = 160
    context_window: int = 4096
    _generator: Any = PrivateAttr()

    def __init__(self, generator, **kw):
        super().__init__(**kw)
        self._generator = generator

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(context_window=self.context_window, num_output=self.max_new_tokens,
                           model_name=getattr(self._generator, "name", "generator"), is_chat_model=False)

    def _pieces(self, prompt: str) -> Iterator[str]:
        messages: list[Message] = [{"role": "user", "content": prompt}]
        return self._generator.stream(messages, max_new_tokens=self.max_new_tokens)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text="".join(self._pieces(prompt)))

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        def gen():
            text, pieces = "", 0
            for piece in self._pieces(prompt):
                text, pieces = text + piece, pieces + 1
                yield CompletionResponse(text=text, delta=piece)
            if not pieces:   # llama-index's callback fails on a stream that yields nothing
                yield CompletionResponse(text="", delta="")
        return gen()
