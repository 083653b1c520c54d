"""A generator run in-process by llama.cpp (the optional extra: pip install .[llamacpp]).

llama_cpp is imported inside LlamaCppGenerator only: the default install has no compiler and no llama_cpp.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

from rag.errors import ModelError
from rag.types import Message

INSTALL_HINT = ("install the optional extra: pip install '.[llamacpp]' (it compiles llama.cpp: "
                "needs cmake and a C++ compiler), or use RAG_BACKEND=transformers")


class LlamaCppGenerator:
    """A GGUF model run by llama.cpp on CPU; greedy, streamed, one generation at a time.

    The chat template comes from the GGUF's own metadata, as with the transformers backend.
    """

    def __init__(self, gguf: Path | str, *, n_ctx: int = 4096, threads: int | None = None,
                 repeat_penalty: float = 1.05, name: str | None = None) -> None:
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError(f"RAG_BACKEND=llamacpp needs llama-cpp-python: {INSTALL_HINT}") from None
        from rag.hardware import cpu_count

        gguf = Path(gguf)
        if not gguf.is_file() or gguf.suffix.lower() != ".gguf":
            raise ModelError(f"RAG_BACKEND=llamacpp needs a .gguf file; {gguf} is not one "
                             "(set RAG_GENERATOR to a .gguf path, or 'bundled')")
        threads = threads or cpu_count()
        try:
            self.llm = Llama(model_path=str(gguf), n_ctx=n_ctx, n_threads=threads, n_threads_batch=threads,
                             verbose=False)
        except (ValueError, RuntimeError) as e:   # llama.cpp's word for a file it cannot load
            raise ModelError(f"llama.cpp cannot load {gguf.name} ({e}); give a GGUF llama.cpp supports") from None
        self.name = name or gguf.name
        self.repeat_penalty = repeat_penalty
        self._lock = threading.Lock()

    def count_tokens(self, messages: list[Message]) -> int:
        """Number of prompt tokens the chat becomes, rendered by the GGUF's chat template."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        def text(token: int) -> str:
            return self.llm.detokenize([token], special=True).decode("utf-8", "replace") if token >= 0 else ""

        template = self.llm.metadata.get("tokenizer.chat_template", "")
        prompt = Jinja2ChatFormatter(template, eos_token=text(self.llm.token_eos()),
                                     bos_token=text(self.llm.token_bos()))(messages=list(messages)).prompt
        return len(self.llm.tokenize(prompt.encode("utf-8"), add_bos=False, special=True))

    def stream(self, messages: list[Message], *, max_new_tokens: int) -> Iterator[str]:
        """Yield the greedy reply as llama.cpp decodes it; stopping the iteration stops the generation."""
        with self._lock:   # one generation at a time: a UI may call from several threads
            chunks = self.llm.create_chat_completion(
                messages=list(messages), max_tokens=max_new_tokens, temperature=0.0,
                repeat_penalty=self.repeat_penalty, stream=True)
            try:
                for chunk in chunks:
                    piece = chunk["choices"][0]["delta"].get("content") or ""
                    if piece:
                        yield piece
            finally:
                chunks.close()   # an abandoned stream ends llama.cpp's decode loop here
