"""The one place that builds the real parts (embedder, store, generator, pipeline) from a Settings.

Everything else receives its parts; "use what is passed in, else build from settings".
"""
from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Callable

from rag.errors import ModelError
from rag.settings import Settings


@dataclass
class Parts:
    settings: Settings
    embedder: object
    store: object
    client: object


# -- embedders ---------------------------------------------------------------------------------------------------
def build_embedder(settings: Settings):
    """The bundled MiniLM, any sentence-transformers model, "hash" (no model: quick trials and tests), or an
    embedding server (RAG_EMBED_BASE_URL) with RAG_EMBEDDER's tokenizer sizing the chunks."""
    if settings.embed_base_url:
        return build_server_embedder(settings)
    if settings.embedder == "hash":
        from rag.embed import HashEmbedder

        return HashEmbedder()
    from pathlib import Path

    from rag.embed import SentenceTransformerEmbedder, TransformersEmbedder, bundled_embedder_path, mean_pooled_folder
    from rag.hardware import resolve_precision

    # The embedder follows RAG_PRECISION, except that int8 (a generator option) means the default for it.
    precision = resolve_precision("auto" if settings.precision == "int8" else settings.precision)
    path = bundled_embedder_path() if settings.embedder == "bundled" else Path(settings.embedder).expanduser()
    if path.is_dir() and mean_pooled_folder(path):      # the usual case: no sentence-transformers import
        name = "all-MiniLM-L6-v2" if settings.embedder == "bundled" else path.name
        return TransformersEmbedder(path, name=name, precision=precision)
    return SentenceTransformerEmbedder(settings.embedder, precision=precision)


def build_server_embedder(settings: Settings):
    from pathlib import Path

    from rag.embed import bundled_embedder_path
    from rag.embed_server import OpenAIEmbedder

    own = settings.embedder not in ("bundled", "hash") and (Path(settings.embedder) / "tokenizer.json").is_file()
    return OpenAIEmbedder(settings.embed_base_url, settings.embed_model, api_key=settings.embed_api_key,
                          tokenizer_dir=Path(settings.embedder) if own else bundled_embedder_path(),
                          batch_size=settings.embed_batch, concurrency=settings.embed_concurrency)


def index_folder(settings: Settings):
    """Where the collection's BM25 index and its generation stamp live."""
    from rag.live_index import IndexFolder

    return IndexFolder(settings.index_root, settings.collection)


# -- the store ---------------------------------------------------------------------------------------------------
def open_store(settings: Settings, embedder):
    from rag.ingest import recover_swap
    from rag.store import ChromaStore, open_client

    client = open_client(settings.store_dir, url=settings.chroma_url)
    recover_swap(client, settings.collection)
    return client, ChromaStore(client, settings.collection, embedder_name=embedder.name)


def reset_store(settings: Settings, records, embedder, **kw):
    """`rag ingest --reset`: rebuild beside the old collection, whatever state (version, damage) it is in.
    A local store too damaged to open at all is moved aside, kept for inspection, and a new one is built."""
    from rag.errors import StoreError
    from rag.ingest import rebuild
    from rag.store import open_client

    try:
        client = open_client(settings.store_dir, url=settings.chroma_url)
        client.list_collections()          # a damaged database may open and fail on first use
    except Exception as e:
        if settings.chroma_url:
            raise StoreError(f"cannot reach the Chroma server at {settings.chroma_url} ({type(e).__name__})") from e
        from chromadb.api.shared_system_client import SharedSystemClient

        aside = settings.store_dir.with_name(f"{settings.store_dir.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        settings.store_dir.rename(aside)
        SharedSystemClient.clear_system_cache()    # Chroma keeps the failed instance for this path
        print(f"The store in {settings.store_dir} cannot be opened; it was moved to {aside} and a new one is "
              "built.", file=sys.stderr)
        client = open_client(settings.store_dir)
    return rebuild(records, client, settings.collection, embedder, index=index_folder(settings), **kw)


def build_parts(settings: Settings, *, progress: bool = True,
                on_ingest: Callable[[int, int], None] | None = None) -> Parts:
    """Embedder and store; the bundled abstracts are ingested first if the store is empty."""
    from rag.corpus import load_corpus
    from rag.ingest import ingest

    embedder = build_embedder(settings)
    client, store = open_store(settings, embedder)
    if store.count_chunks() == 0:
        if progress:
            print("The store is empty: ingesting the bundled abstracts once.", file=sys.stderr)
        papers = load_corpus()
        ingest(papers, store, embedder, progress=progress, on_batch=on_ingest, total=len(papers),
               index=index_folder(settings))
    return Parts(settings, embedder, store, client)


# -- generators: RAG_BACKEND names one (RAG_LLM_BASE_URL means openai) ---------------------------------------------
def _transformers(settings: Settings):
    from rag.generators.model_files import resolve_generator_model
    from rag.generators.transformers import TransformersGenerator

    path, name = resolve_generator_model(settings.generator, settings.models_dir)
    return TransformersGenerator(path, precision=settings.precision, name=name)


def _llamacpp(settings: Settings):
    from rag.generators.llamacpp import LlamaCppGenerator
    from rag.generators.model_files import resolve_gguf

    path, name = resolve_gguf(settings.generator, settings.models_dir)
    return LlamaCppGenerator(path, name=name)


def _openai(settings: Settings):
    from rag.generators.openai import OpenAIGenerator

    if not settings.llm_base_url:
        raise ModelError("RAG_BACKEND=openai needs RAG_LLM_BASE_URL (the server's address, ending in /v1)")
    return OpenAIGenerator(settings.llm_base_url, settings.llm_model, api_key=settings.llm_api_key)


def _fake(settings: Settings):
    from rag.generators.base import FakeGenerator, copy_first_source

    return FakeGenerator(copy_first_source)


GENERATORS: dict[str, Callable[[Settings], object]] = {
    "transformers": _transformers, "llamacpp": _llamacpp, "openai": _openai, "fake": _fake}


def build_generator(settings: Settings):
    """The generator RAG_BACKEND names; RAG_LLM_BASE_URL selects the OpenAI-compatible server."""
    backend = "openai" if settings.llm_base_url else settings.backend
    if backend not in GENERATORS:
        raise ModelError(f"unknown RAG_BACKEND {settings.backend!r}; use one of {', '.join(GENERATORS)}")
    return GENERATORS[backend](settings)


def build_parts_and_generator(settings: Settings, *, progress: bool = True,
                              on_ingest: Callable[[int, int], None] | None = None):
    """(Parts, generator), the generator loading in a second thread while the embedder and the store load:
    loading weights leaves the interpreter to the other. transformers is imported here first, because its
    lazy imports race when two threads trigger them."""
    from concurrent.futures import ThreadPoolExecutor

    if settings.backend == "transformers" and not settings.llm_base_url:
        import transformers  # noqa: F401
    with ThreadPoolExecutor(1, thread_name_prefix="load-generator") as pool:
        generator = pool.submit(build_generator, settings)
        parts = build_parts(settings, progress=progress, on_ingest=on_ingest)
        return parts, generator.result()


# -- the pipeline -----------------------------------------------------------------------------------------------
def build_pipeline(settings: Settings, *, parts: Parts | None = None, generator=None, progress: bool = True):
    """Use what is passed in, else build from settings."""
    from rag.answer.citations import SupportChecker
    from rag.answer.pipeline import Pipeline
    from rag.answer.summarize import Summarizer
    from rag.live_index import stderr_line
    from rag.retrieve import HybridRetriever

    if parts is None and generator is None:
        parts, generator = build_parts_and_generator(settings, progress=progress)
    parts = parts or build_parts(settings, progress=progress)
    generator = generator or build_generator(settings)
    retriever = HybridRetriever(parts.store, parts.embedder, fusion=settings.fusion,
                                passages_per_paper=settings.passages_per_paper, candidates=settings.candidates,
                                index=index_folder(settings), say=stderr_line if progress else None)
    checker = SupportChecker(parts.embedder, settings.support)
    summarizer = Summarizer(retriever, generator, checker, config=settings.summary, policy=settings.policy,
                            max_topic_chars=settings.max_question_chars)
    return Pipeline(retriever, generator, checker, settings=settings, summarizer=summarizer,
                    embedder_name=parts.embedder.name)
