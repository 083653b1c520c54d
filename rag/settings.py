"""Every default and every tuned threshold, in one place, each with the reason for its value.

`Settings` is read from the environment once, at the edge (`settings_from_env`, called by the CLI and the UI),
and passed down; constructors take their defaults from here (`DEFAULTS`), so the tests run what the product runs.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Mapping

from rag.errors import RagError


@dataclass(frozen=True)
class SupportConfig:
    """How well a paper must back a sentence (rag.answer.citations). Set on the dev set (eval/questions.jsonl)."""
    threshold: float = 0.50          # support score that counts as backed: separated answerable from unanswerable
    weight_dense: float = 0.6        # score = 0.6 * best sentence cosine + 0.4 * content-word coverage
    attach_margin: float = 0.08      # an uncited sentence gets a marker only when one source wins by this much
    overlap_weight: float = 0.5      # sentence relevance = cosine + this * share of the query's words it has
    short_claim_words: int = 4       # a shorter claim ("85 [1].") is embedded together with the question
    cache_papers: int = 4096         # papers whose sentence embeddings are kept (a few MB)


@dataclass(frozen=True)
class AbstainPolicy:
    """When to refuse (rag.answer.policy). Calibrated on the dev set's unanswerable + paraphrase questions."""
    evidence_papers: int = 3         # the top papers whose signals decide, and which are shown as related
    min_dense: float = 0.30          # best passage cosine of those papers; below it nothing is on topic
    min_coverage: float = 0.30       # IDF-weighted share of the query's words in those papers ...
    min_dense_low_coverage: float = 0.40   # ... which a low-coverage (paraphrased) question needs instead
    min_extractive: float = 0.60     # relevance an extracted fallback sentence needs (cosine + overlap / 2)
    # At most this many whole abstracts in an answer's prompt. Dev split, single-paper types (docs/evaluation.md):
    # 1, 2 and 3 papers gave keywords 90/85/85% and refused 5/5/2% of answerable questions; 1 and 2 answered in a
    # third of 3's time. 2 lets a close second paper in, for questions retrieval is unsure about.
    context_papers: int = 2
    context_relative: float = 0.75   # ... each with a fused score within this share of the best paper's
    name_search: int = 20            # papers a keyword search returns when checking that a name is mentioned
    conflict_fit: float = 0.50       # a phrase another paper is clearly about (best sentence cosine) ...
    conflict_gap: float = 0.30       # ... this much better than the answering paper: two topics no paper joins


@dataclass(frozen=True)
class SummaryConfig:
    """How a summary is built (rag.answer.summarize). The relevance cut-off was calibrated with
    `python -m eval.calibrate` on the dev set's summary questions and eval/summary_holdout.jsonl."""
    pool: int = 30                   # candidates retrieved before the cut-off
    max_papers: int = 20             # at most this many papers are summarised (prompt size, time)
    min_relative: float = 0.50       # keep a paper whose fused score is >= this share of the best paper's
    min_dense: float = 0.0           # ... whose best passage cosine to the topic is at least this (off)
    min_support: float = 0.45        # ... and whose abstract backs the topic this well (calibrated)
    left_out: int = 5                # papers just below the cut-off listed in the result
    quotes_per_paper: int = 3        # evidence: 1..3 exact abstract sentences per paper
    quote_words: int = 60            # ... within this many words (the best sentence always counts)
    contribution_words: int = 30     # the table's one line per paper
    batch_size: int = 5              # papers per map step: longer prompts made the 0.5B model skip papers
    batch_sentences: int = 4         # sentences asked for per batch paragraph
    batch_tokens: int = 150          # max new tokens per batch paragraph
    overview: bool = True            # reduce step: one model-written overview over all papers when batched
    overview_tokens: int = 80        # max new tokens of the overview (reduce) step
    unsupported: str = "replace"     # "replace": by an extractive sentence; "flag": keep, marked (unverified)
    cover_all: bool = True           # add an extractive sentence for each kept paper the text never cites


@dataclass(frozen=True)
class MultiConfig:
    """Questions about several papers (rag.answer.multi). The relevance cut-off is the summaries' (calibrated
    with `python -m eval.calibrate`), with fewer papers: each gets its own sentence."""
    pool: int = 30                   # candidates retrieved before the cut-off
    max_papers: int = 6              # at most this many papers get a sentence (time: one short generation each)
    min_relative: float = 0.50       # keep a paper whose fused score is >= this share of the best paper's
    min_dense: float = 0.0           # (off)
    min_support: float = 0.45        # ... and whose abstract backs the question this well
    left_out: int = 5                # papers just below the cut-off listed in the result
    quotes_per_paper: int = 3        # evidence given to the model for each paper
    quote_words: int = 80            # ... within this many words
    sentence_tokens: int = 60        # max new tokens of a paper's sentence
    contribution_words: int = 30     # the table's one line per paper


@dataclass(frozen=True)
class Settings:
    # where data lives
    home: Path = Path(".rag")                # RAG_HOME: store and cached models, in the working folder
    models_home: Path | None = None          # RAG_MODELS_DIR: converted models (default RAG_HOME/models)
    # models
    embedder: str = "bundled"                # RAG_EMBEDDER: bundled (all-MiniLM-L6-v2), a sentence-transformers folder/id, or hash
    generator: str = "bundled"               # RAG_GENERATOR: bundled (Qwen2.5-Coder-0.5B GGUF), a folder, a .gguf file or a hub id
    backend: str = "transformers"            # RAG_BACKEND: transformers, llamacpp (optional extra) or fake (tests, demos)
    precision: str = "auto"                  # RAG_PRECISION: bfloat16 where the CPU has it (half the time), else float32
    llm_base_url: str = ""                   # RAG_LLM_BASE_URL: an OpenAI-compatible server instead of a local model
    llm_model: str = ""                      # RAG_LLM_MODEL: the model name on that server
    llm_api_key: str = ""                    # RAG_LLM_API_KEY (optional)
    # store
    chroma_url: str = ""                     # RAG_CHROMA_URL: a Chroma server (http://host:port) instead of the embedded store
    collection: str = "papers"               # RAG_COLLECTION: several collections can share one server
    # retrieval
    top_k: int = 5                           # RAG_TOP_K: papers given to the model; 5 kept recall@5 at 0.95 on the dev set
    top_k_max: int = 20                      # the most papers a question may ask for (CLI and UI alike): prompt size
    fusion: str = "relative_score"           # RAG_FUSION: BM25 + dense fusion; beat reciprocal_rerank on dev recall
    passages_per_paper: int = 1              # passages of each paper kept per hit (the prompt takes its own sentences)
    candidates: int = 40                     # chunks taken from each ranking before fusion
    # an embedding server instead of the local embedder
    embed_base_url: str = ""                 # RAG_EMBED_BASE_URL: an OpenAI-compatible server (http://host:port/v1) embeds instead of this machine
    embed_model: str = ""                    # RAG_EMBED_MODEL: the model name on that server; its last part is the embedder's name in the store
    embed_api_key: str = ""                  # RAG_EMBED_API_KEY (optional)
    embed_concurrency: int = 4               # RAG_EMBED_CONCURRENCY: requests in flight; 4 keeps a server busy while answers travel back
    embed_batch: int = 32                    # RAG_EMBED_BATCH: texts per request; 32 is the default batch cap of infinity and TEI
    # answering
    max_new_tokens: int = 160                # RAG_MAX_NEW_TOKENS: three short sentences fit
    max_question_chars: int = 2000           # longer is a pasted document, not a question
    # tuned thresholds
    policy: AbstainPolicy = field(default_factory=AbstainPolicy)
    support: SupportConfig = field(default_factory=SupportConfig)
    summary: SummaryConfig = field(default_factory=SummaryConfig)
    multi: MultiConfig = field(default_factory=MultiConfig)

    @property
    def store_dir(self) -> Path:
        return self.home / "chroma"

    @property
    def models_dir(self) -> Path:
        return self.models_home or self.home / "models"

    @property
    def index_root(self) -> Path:
        """The BM25 indexes: beside the embedded store, or in a folder named for the Chroma server."""
        if not self.chroma_url:
            return self.home / "bm25"
        from urllib.parse import urlparse

        u = urlparse(self.chroma_url if "://" in self.chroma_url else f"http://{self.chroma_url}")
        return self.home / f"bm25-{u.hostname or 'server'}-{u.port or 8000}"


DEFAULTS = Settings()

_ENV = {
    "RAG_HOME": "home", "RAG_MODELS_DIR": "models_home", "RAG_EMBEDDER": "embedder", "RAG_GENERATOR": "generator",
    "RAG_BACKEND": "backend", "RAG_PRECISION": "precision", "RAG_LLM_BASE_URL": "llm_base_url", "RAG_LLM_MODEL": "llm_model",
    "RAG_LLM_API_KEY": "llm_api_key", "RAG_COLLECTION": "collection", "RAG_CHROMA_URL": "chroma_url", "RAG_FUSION": "fusion",
    "RAG_TOP_K": "top_k", "RAG_MAX_NEW_TOKENS": "max_new_tokens",
    "RAG_EMBED_BASE_URL": "embed_base_url", "RAG_EMBED_MODEL": "embed_model", "RAG_EMBED_API_KEY": "embed_api_key",
    "RAG_EMBED_CONCURRENCY": "embed_concurrency", "RAG_EMBED_BATCH": "embed_batch",
}
_POLICY_ENV = {"RAG_CONTEXT_PAPERS": "context_papers"}      # a prompt-size knob (docs/evaluation.md measures it)


def settings_from_env(environ: Mapping[str, str] | None = None, **overrides) -> Settings:
    """Settings from RAG_* variables, then explicit overrides (CLI flags; None means not given)."""
    environ = os.environ if environ is None else environ
    types = {f.name: f.type for f in fields(Settings)}
    values: dict = {}
    for var, name in _ENV.items():
        if var in environ and environ[var] != "":
            values[name] = _parse(var, environ[var], types[name])
    policy = {name: _parse(var, environ[var], int) for var, name in _POLICY_ENV.items() if environ.get(var)}
    if policy:
        values["policy"] = replace(DEFAULTS.policy, **policy)
    values.update({k: v for k, v in overrides.items() if v is not None})
    return replace(DEFAULTS, **values)


def _parse(var: str, raw: str, kind) -> object:
    if kind in ("int", int):
        try:
            return int(raw)
        except ValueError:
            raise RagError(f"{var} must be a whole number, not {raw!r}") from None
    if "Path" in str(kind):
        return Path(raw)
    return raw


def set_offline_env() -> None:
    """No model hub, no telemetry: the product runs offline."""
    for var, value in {
        "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False",
        "TOKENIZERS_PARALLELISM": "false", "TQDM_DISABLE": os.environ.get("TQDM_DISABLE", ""),
        "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }.items():
        if value:
            os.environ.setdefault(var, value)
