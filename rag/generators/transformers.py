"""A local causal LM run by transformers on CPU (the default backend).

torch and transformers are imported inside the functions that need them, so importing this module is fast.
"""
from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from pathlib import Path

from rag.errors import ModelError
from rag.hardware import cpu_count, resolve_precision
from rag.types import Message


def quantize_int8(model):
    """Dynamic int8 for the Linear layers except each MLP's down_proj (kept float32)."""
    import warnings

    import torch
    from torch.ao.quantization import default_dynamic_qconfig

    # down_proj inputs carry Qwen's "massive activations" (one channel ~60x the RMS); with
    # per-tensor activation scales their int8 version changed grounded answers, so skip them.
    spec = {name: (None if name.endswith("down_proj") else default_dynamic_qconfig)
            for name, module in model.named_modules() if isinstance(module, torch.nn.Linear)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)   # torch.ao is deprecated, still works
        warnings.simplefilter("ignore", UserWarning)
        return torch.ao.quantization.quantize_dynamic(model, spec, dtype=torch.qint8)


class TransformersGenerator:
    """A local causal LM run by transformers on CPU; greedy, streamed, one generation at a time."""

    def __init__(self, model_path: Path | str, *, precision: str = "auto", threads: int | None = None,
                 repetition_penalty: float = 1.05, name: str | None = None, reuse_prefix: bool = True,
                 prompt_lookup: int = 10) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch.set_num_threads(threads or cpu_count())
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
            # Measured on the dev prompts: bfloat16 gives float32's answers at about half the time on a
            # CPU with native bf16; int8 dynamic quantisation is faster still but refused answerable questions.
            self.precision = resolve_precision(precision)
            dtype = torch.bfloat16 if self.precision == "bfloat16" else torch.float32
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype)
        except Exception as e:   # OSError when missing; a truncated file raises the safetensors' own error
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise ModelError(f"cannot load the model {model_path} ({first}); a damaged converted copy is rebuilt "
                             "if you delete its folder and run again; else use 'bundled', a local folder or "
                             ".gguf, or a hub id in your cache") from e
        model.eval()
        if self.precision == "int8":
            model = quantize_int8(model)
        self.model = model
        self.name = name or Path(str(model_path)).name
        self.repetition_penalty = repetition_penalty
        self.reuse_prefix = reuse_prefix
        # Prompt-lookup decoding: candidate tokens copied from the prompt, checked in one forward pass. Answers
        # copy long spans of their sources, so most candidates are accepted; greedy output is unchanged.
        # It pays in bfloat16 only (MODELS.md: 7.4 -> 39 tokens/s; float32 gained nothing).
        self.prompt_lookup = prompt_lookup if self.precision == "bfloat16" else 0
        self._lock = threading.Lock()
        self._prefixes: dict[tuple[int, ...], object] = {}   # system-prompt ids -> their KV cache

    def _prefix_cache(self, messages: list[Message], ids: list[int]):
        """A copy of the KV cache of the chat's fixed system prompt, computed once per distinct prompt.

        Every answer starts with the same system message, so its keys and values are reused instead of
        prefilled again (the transformers "re-use the prompt cache" pattern). None when not applicable.
        """
        if not messages or messages[0].get("role") != "system" or len(messages) < 2:
            return None
        import torch
        from transformers import DynamicCache

        text = self.tokenizer.apply_chat_template(messages[:1], tokenize=False)
        prefix = tuple(self.tokenizer(text, add_special_tokens=False)["input_ids"])
        if len(prefix) >= len(ids) or tuple(ids[:len(prefix)]) != prefix:
            return None   # the template does not split cleanly at the system message
        cache = self._prefixes.get(prefix)
        if cache is None:
            if len(self._prefixes) >= 4:   # a few system prompts exist (answer, summary steps)
                self._prefixes.pop(next(iter(self._prefixes)))
            with torch.inference_mode():
                cache = self.model(input_ids=torch.tensor([prefix]), cache=DynamicCache(),
                                   use_cache=True).cache
            self._prefixes[prefix] = cache
        return copy.deepcopy(cache)

    def prompt_ids(self, messages: list[Message]) -> list[int]:
        """Token ids of the chat, rendered by the model's template, ready for the reply."""
        text = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def count_tokens(self, messages: list[Message]) -> int:
        """Number of prompt tokens the chat becomes."""
        return len(self.prompt_ids(messages))

    def stream(self, messages: list[Message], *, max_new_tokens: int) -> Iterator[str]:
        """Yield the greedy reply as it is decoded; stopping the iteration stops the generation."""
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        class _StopWhenSet(StoppingCriteria):
            def __init__(self, event: threading.Event) -> None:
                self.event = event

            def __call__(self, input_ids, scores, **kwargs) -> bool:
                return self.event.is_set()

        with self._lock:   # one generation at a time: a UI may call from several threads
            ids = self.prompt_ids(messages)
            cache = self._prefix_cache(messages, ids) if self.reuse_prefix else None
            input_ids = torch.tensor([ids])
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            abandoned = threading.Event()
            failure: list[BaseException] = []

            def run() -> None:
                try:
                    with torch.inference_mode():
                        self.model.generate(
                            input_ids=input_ids, attention_mask=torch.ones_like(input_ids),
                            cache=cache, max_new_tokens=max_new_tokens, do_sample=False,
                            repetition_penalty=self.repetition_penalty,
                            **({"prompt_lookup_num_tokens": self.prompt_lookup} if self.prompt_lookup else {}),
                            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
                            streamer=streamer,
                            stopping_criteria=StoppingCriteriaList([_StopWhenSet(abandoned)]))
                except BaseException as e:  # re-raised in the caller's thread below
                    failure.append(e)
                    streamer.end()   # unblock the reader

            thread = threading.Thread(target=run, name="generate", daemon=True)
            thread.start()
            try:
                for piece in streamer:
                    if piece:
                        yield piece
            finally:
                abandoned.set()   # the caller stopped early (or we are done): end the thread
                thread.join()
            if failure:
                raise failure[0]
