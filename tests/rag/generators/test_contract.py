"""One contract, every generator backend: the fake (as the product builds it, RAG_BACKEND=fake), transformers,
llama.cpp in-process and an OpenAI-compatible server (llama.cpp's, started on loopback for the test).

A generator streams its reply as text pieces that join into the whole reply, stops within max_new_tokens,
can be abandoned mid-reply, and replies the same way twice (greedy)."""
from __future__ import annotations

from pathlib import Path

import pytest

from rag.settings import Settings
from tests.support.data import shared_models_dir

BACKENDS = [pytest.param("fake"),
            pytest.param("transformers", marks=pytest.mark.model),
            pytest.param("llamacpp", marks=pytest.mark.model),
            pytest.param("openai", marks=pytest.mark.model)]
CHAT = [{"role": "system", "content": "Answer in one short sentence."},
        {"role": "user", "content": "[1] Paris\nParis is the capital of France.\n\nWhat is the capital of France?"}]


@pytest.fixture(scope="module", params=BACKENDS)
def generator(request):
    from rag.build import build_generator

    settings = Settings(backend=request.param, models_home=shared_models_dir())
    if request.param in ("fake", "transformers"):
        yield build_generator(settings)
        return
    from tests.support.servers import LLAMA_SERVER_MODEL, free_port, llama_server_argv, require_module, running_server

    require_module("llama_cpp", "pip install '.[llamacpp]'")
    if request.param == "llamacpp":
        yield build_generator(settings)
        return
    from rag.generators.model_files import assemble_bundled_gguf

    gguf, port = assemble_bundled_gguf(Path(shared_models_dir())), free_port()
    with running_server(llama_server_argv(gguf, port), "/v1/models", port, deadline_s=180) as url:
        yield build_generator(Settings(llm_base_url=f"{url}/v1", llm_model=LLAMA_SERVER_MODEL))


def test_has_a_name(generator):
    assert isinstance(generator.name, str) and generator.name


def test_streams_text_pieces_that_join_into_the_reply(generator):
    pieces = list(generator.stream(CHAT, max_new_tokens=24))
    assert pieces and all(isinstance(p, str) for p in pieces)
    assert "paris" in "".join(pieces).lower()


def test_replies_the_same_way_twice(generator):
    assert "".join(generator.stream(CHAT, max_new_tokens=12)) == "".join(generator.stream(CHAT, max_new_tokens=12))


def test_stops_within_max_new_tokens(generator):
    short = "".join(generator.stream(CHAT, max_new_tokens=2))
    assert short.strip() and len(short.split()) <= 2


def test_can_be_abandoned_mid_reply(generator):
    whole = "".join(generator.stream(CHAT, max_new_tokens=12))
    stream = generator.stream(CHAT, max_new_tokens=12)
    first = next(iter(stream))
    getattr(stream, "close", lambda: None)()         # the caller stops early (New chat, closed tab) ...
    assert whole.startswith(first)
    assert "".join(generator.stream(CHAT, max_new_tokens=12)) == whole     # ... and the next reply is whole
