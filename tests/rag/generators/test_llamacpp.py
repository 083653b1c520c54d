"""The llama.cpp backend (optional extra): selection, its one-line errors, and the real bundled GGUF."""
from __future__ import annotations

import sys

import pytest

from rag.build import build_generator
from rag.errors import ModelError
from rag.generators.model_files import resolve_gguf
from rag.settings import Settings
from tests.support.data import shared_models_dir


def test_missing_llama_cpp_is_one_line_naming_the_extra(monkeypatch, tmp_path):
    from rag.generators.llamacpp import LlamaCppGenerator

    monkeypatch.setitem(sys.modules, "llama_cpp", None)     # import llama_cpp now raises ImportError
    with pytest.raises(ModelError, match=r"pip install '\.\[llamacpp\]'") as err:
        LlamaCppGenerator(tmp_path / "model.gguf")
    assert "\n" not in str(err.value)


def test_backend_setting_is_checked(tmp_path):
    with pytest.raises(ModelError, match="unknown RAG_BACKEND 'vllm'; use one of transformers, llamacpp"):
        build_generator(Settings(home=tmp_path, backend="vllm"))
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ModelError, match="GGUF files only"):
        resolve_gguf(str(tmp_path), tmp_path)
    with pytest.raises(ModelError, match="GGUF file not found"):
        resolve_gguf(str(tmp_path / "missing.gguf"), tmp_path)


@pytest.fixture(scope="module")
def llamacpp():
    from tests.support.servers import require_module

    require_module("llama_cpp", "pip install '.[llamacpp]'")
    return build_generator(Settings(backend="llamacpp", models_home=shared_models_dir()))


@pytest.mark.model
def test_bundled_gguf_streams_greedy_replies_and_stops_early(llamacpp):
    chat = [{"role": "user", "content": "Name the capital of France in one word."}]
    whole = "".join(llamacpp.stream(chat, max_new_tokens=8))
    assert "paris" in whole.lower()
    pieces = llamacpp.stream(chat, max_new_tokens=8)
    first = next(pieces)
    pieces.close()                                          # the caller stops early ...
    assert whole.startswith(first)
    assert "".join(llamacpp.stream(chat, max_new_tokens=8)) == whole   # ... and the next reply is the same


@pytest.mark.model
def test_prompt_tokens_match_the_transformers_tokenizer(llamacpp):
    from transformers import AutoTokenizer

    from rag.generators.model_files import resolve_generator_model

    path, _ = resolve_generator_model("bundled", shared_models_dir())
    tokenizer = AutoTokenizer.from_pretrained(path)
    chat = [{"role": "system", "content": "Answer from the papers."},
            {"role": "user", "content": "How many classes does 3DIEBench have? Cite [1]."}]
    text = tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    assert llamacpp.count_tokens(chat) == len(tokenizer(text, add_special_tokens=False)["input_ids"])
