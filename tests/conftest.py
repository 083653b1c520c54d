"""Shared fixtures: the tiny corpus in a temporary store with the hashing embedder, and pipelines built the way
the product builds them (rag.build.build_pipeline over a Settings), with a FakeGenerator in place of the model."""
from __future__ import annotations

import dataclasses
import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

from rag.formats import parse_plain  # noqa: E402
from rag.settings import Settings  # noqa: E402
from rag.types import Paper  # noqa: E402
from tests.support.data import TINY  # noqa: E402


@pytest.fixture()
def tiny_papers() -> list[Paper]:
    return list(parse_plain(TINY, "tiny.txt"))


@pytest.fixture()
def tiny_settings(tmp_path, tiny_papers) -> Settings:
    """Settings whose RAG_HOME holds the tiny corpus, ingested with the hashing embedder (no model)."""
    from rag.build import build_embedder, open_store
    from rag.ingest import ingest

    settings = Settings(home=tmp_path, embedder="hash")
    embedder = build_embedder(settings)
    _, store = open_store(settings, embedder)
    ingest(tiny_papers, store, embedder, progress=False)
    return settings


@pytest.fixture()
def tiny_store(tiny_settings):
    """(client, store, embedder) of the tiny corpus."""
    from rag.build import build_embedder, open_store

    embedder = build_embedder(tiny_settings)
    client, store = open_store(tiny_settings, embedder)
    return client, store, embedder


@pytest.fixture()
def make_pipeline(tiny_settings):
    """make(replies, **settings overrides) -> (pipeline, fake generator): the product's pipeline over the tiny
    store, built by build_pipeline, with a FakeGenerator that replies from a queue."""
    from rag.build import build_pipeline
    from rag.generators.base import FakeGenerator

    def make(replies=(), **overrides):
        generator = FakeGenerator(replies)
        settings = dataclasses.replace(tiny_settings, **overrides)
        return build_pipeline(settings, generator=generator, progress=False), generator
    return make


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory):
    """A real `chroma run` server on 127.0.0.1 (free port, temporary path) for the whole session; its URL."""
    from tests.support.servers import chroma_argv, free_port, running_server

    port = free_port()
    with running_server(chroma_argv(tmp_path_factory.mktemp("chroma-server"), port), "/api/v2/heartbeat", port,
                        deadline_s=60) as url:
        yield url
