"""The transformers backend on the real bundled model: streaming, one generation at a time, the reused
system-prompt cache."""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from rag.generators.model_files import resolve_generator_model


# --- the real bundled model --------------------------------------------------------------------

def _test_models_dir() -> Path:
    """The converted-model cache every model test shares (see tests/conftest.py)."""
    from tests.support.data import shared_models_dir

    return shared_models_dir()


@pytest.mark.model
def test_bundled_model_streams_an_answer():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.generators.transformers import TransformersGenerator

    path, name = resolve_generator_model("bundled", _test_models_dir())
    gen = TransformersGenerator(path, name=name)
    chat = [{"role": "user", "content": "What is the capital of France? One sentence."}]
    assert 5 < gen.count_tokens(chat) < 60
    results: list[str] = []
    other = threading.Thread(target=lambda: results.append("".join(gen.stream(chat, max_new_tokens=16))))
    other.start()   # a concurrent caller waits for the lock instead of interleaving
    pieces = list(gen.stream(chat, max_new_tokens=16))
    other.join()
    assert "".join(pieces).strip() and "Paris" in "".join(pieces)
    assert results == ["".join(pieces)]
    # Stopping early ends the generation and frees the lock for the next caller.
    stream = gen.stream(chat, max_new_tokens=16)
    next(stream)
    stream.close()
    assert "".join(gen.stream(chat, max_new_tokens=4)).strip()


@pytest.mark.model
def test_reused_system_prompt_cache_gives_the_same_answer():
    """The system prompt's KV cache is computed once and reused; float32 greedy output must not change."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.generators.transformers import TransformersGenerator
    from rag.answer.prompt import build_messages
    from rag.types import Hit, Paper

    path, name = resolve_generator_model("bundled", _test_models_dir())
    gen = TransformersGenerator(path, name=name, precision="float32")
    paper = Paper("p1", "A benchmark", "We introduce 3DIEBench, a dataset of 55 object classes and 2.5M images.")
    chat = build_messages("How many object classes does 3DIEBench have?", [Hit(paper=paper, passages=[paper.abstract], score=1.0)])
    ids = gen.prompt_ids(chat)
    assert gen._prefix_cache([chat[1]], ids) is None              # no system message: nothing to reuse
    gen.reuse_prefix = False
    plain = "".join(gen.stream(chat, max_new_tokens=20))
    gen.reuse_prefix = True
    first = "".join(gen.stream(chat, max_new_tokens=20))
    assert len(gen._prefixes) == 1
    again = "".join(gen.stream(chat, max_new_tokens=20))           # the cached prefix must not be mutated
    assert plain == first == again
    assert plain.strip()
