"""Metadata filters: parsing, the Chroma `where`, and questions answered from the filtered papers only."""
from dataclasses import replace

import pytest

from rag.errors import InputError
from rag.filters import describe, matches, parse_date, parse_years, where_filter
from rag.types import AbstainReason, Paper


def test_parse_years_and_dates():
    assert parse_years("2023") == (2023, 2023) and parse_years(2023) == (2023, 2023)
    assert parse_years("2020-2023") == (2020, 2023) and parse_years("2020-") == (2020, 9999)
    assert parse_years(None) is None and parse_years("") is None
    for bad in ("20x", "2023-2020", "23"):
        with pytest.raises(InputError):
            parse_years(bad)
    assert parse_date("2023-01-31").isoformat() == "2023-01-31" and parse_date("2023").isoformat() == "2023-01-01"
    with pytest.raises(InputError, match="--since '2023-02-30' is not a date"):
        parse_date("2023-02-30", "since")


def test_where_filter_and_matches_agree():
    lg23 = Paper("a", "T", "A", year=2023, categories="cs.LG stat.ML")
    cv23 = Paper("b", "T", "A", year=2023, categories="cs.CV")
    lg21 = Paper("c", "T", "A", year=2021, categories="cs.LG")
    bare = Paper("d", "T", "A")
    papers = [lg23, cv23, lg21, bare]
    cases = [(where_filter((2023, 2023)), ["a", "b"]),
             (where_filter(None, ["cs.LG"]), ["a", "c"]),
             (where_filter((2023, 2023), ["cs.LG"]), ["a"]),
             (where_filter((2020, 2022), ["cs.LG", "cs.CV"]), ["c"]),
             (where_filter((2021, 9999), ["stat.ML", "cs.CV"]), ["a", "b"]),
             (where_filter(None, []), ["a", "b", "c", "d"])]
    for where, ids in cases:
        assert [p.paper_id for p in papers if matches(p, where)] == ids, where
    assert where_filter(None, []) is None
    assert describe(where_filter((2023, 2023), ["cs.LG"])) == "year 2023, category cs.LG"


YEARS_CATS = [(2021, "cs.CV"), (2022, "cs.LG"), (2023, "cs.LG stat.ML"), (2023, "cs.CL"), (2024, "cs.LG"), (2024, "cs.CL")]


@pytest.fixture()
def dated_store(tmp_path, tiny_papers):
    """The tiny corpus with a year and categories on each paper, in a real Chroma store."""
    from rag.embed import HashEmbedder
    from rag.ingest import ingest
    from rag.store import ChromaStore, open_client

    papers = [replace(p, year=y, categories=c) for p, (y, c) in zip(tiny_papers, YEARS_CATS)]
    embedder = HashEmbedder()
    store = ChromaStore(open_client(tmp_path / "chroma"), "papers", embedder_name=embedder.name)
    ingest(papers, store, embedder, progress=False)
    return store, embedder, papers


def test_retrieval_returns_only_papers_that_match_the_filter(dated_store):
    from rag.retrieve import HybridRetriever, paper_of

    store, embedder, papers = dated_store
    by_id = {p.paper_id: p for p in papers}
    retriever = HybridRetriever(store, embedder)
    query = "language models representations"
    everything = retriever.retrieve(query, 6)
    assert {h.paper.year for h in everything} > {2023}
    for years, cats in [((2023, 2023), []), (None, ["cs.LG"]), ((2023, 2024), ["cs.CL"]), ((2022, 2022), ["cs.LG"])]:
        where = where_filter(years, cats)
        hits = retriever.retrieve(query, 6, where=where)
        expected = {p.paper_id for p in papers if matches(p, where)}
        assert hits and {h.paper.paper_id for h in hits} <= expected, where
        dense, sparse = retriever.rankings(query, where=where)
        ranked = [by_id[paper_of(cid)] for cid, _ in dense + sparse]
        assert ranked and all(matches(p, where) for p in ranked)
    assert retriever.facets() == {"years": [2024, 2023, 2022, 2021], "categories": ["cs.LG", "cs.CL", "cs.CV", "stat.ML"]}


def test_bm25_finds_the_filtered_papers_even_when_others_rank_higher(tmp_path):
    """The filter masks BM25 before ranking: a narrow filter is not starved by the unfiltered top list."""
    from rag.embed import HashEmbedder
    from rag.ingest import ingest
    from rag.retrieve import HybridRetriever, paper_of
    from rag.settings import DEFAULTS
    from rag.store import ChromaStore, open_client

    strong = [Paper(f"s{i}", f"Hyperbolic embeddings of hierarchies, part {i}",
                    f"Hyperbolic embeddings represent hierarchies. Variant {i} of hyperbolic embeddings.",
                    year=2023, categories="cs.LG") for i in range(DEFAULTS.candidates + 10)]
    weak = Paper("w", "A survey of graph methods", "Graph methods, including one hyperbolic approach, are surveyed.",
                 year=2020, categories="cs.CV")
    embedder = HashEmbedder()
    store = ChromaStore(open_client(tmp_path / "chroma"), "papers", embedder_name=embedder.name)
    ingest([*strong, weak], store, embedder, progress=False)
    retriever = HybridRetriever(store, embedder)
    query = "hyperbolic embeddings hierarchies"
    _, unfiltered = retriever.rankings(query)
    assert "w" not in {paper_of(cid) for cid, _ in unfiltered}    # out of the unfiltered top list
    _, sparse = retriever.rankings(query, where=where_filter(None, ["cs.CV"]))
    assert [paper_of(cid) for cid, _ in sparse] == ["w"]


def test_pipeline_answers_from_the_filtered_papers_and_abstains_when_none_match(dated_store):
    from rag.generators.base import FakeGenerator
    from rag.text import CANNOT_ANSWER

    store, embedder, papers = dated_store
    pipeline = _pipeline(store, embedder, FakeGenerator(["Poincaré embeddings use hyperbolic space [1]."]))
    question = "What space do Poincaré embeddings use?"
    poincare = next(p for p in papers if p.title.startswith("Poincaré"))
    answer = pipeline.ask(question, where=where_filter((poincare.year, poincare.year), ["cs.LG"]))
    assert answer.sources and all(h.paper.year == poincare.year and "cs.LG" in h.paper.categories.split()
                                  for h in answer.sources)
    none = pipeline.ask(question, where=where_filter((1999, 1999), []))
    assert none.abstained and none.sources == []
    assert none.answer.startswith(CANNOT_ANSWER) and "matches the filter (year 1999)" in none.answer
    assert none.abstain_reason is AbstainReason.FILTER_MATCHES_NOTHING


def test_summary_with_a_filter_that_matches_nothing_says_so(dated_store):
    from rag.generators.base import FakeGenerator

    store, embedder, _ = dated_store
    pipeline = _pipeline(store, embedder, FakeGenerator([]))
    summary = pipeline.summarize("hyperbolic embeddings", where=where_filter(None, ["math.AG"]))
    assert summary.abstained and "No paper in the collection matches the filter (category math.AG)" in summary.answer


def test_ui_filter_boxes_build_the_same_where():
    from ui.handlers import filter_where

    assert filter_where("", []) is None and filter_where(None, None) is None
    assert filter_where(" 2023 ", ["cs.LG"]) == where_filter((2023, 2023), ["cs.LG"])
    with pytest.raises(InputError):
        filter_where("last year", [])


@pytest.mark.slow
def test_ask_command_with_a_filter_that_matches_nothing_abstains_without_the_model(tmp_path):
    """`rag ask --year --category --json`: the filter goes into the answer object; no model is asked."""
    import json
    import os
    import subprocess
    import sys

    from rag.text import CANNOT_ANSWER

    env = {**os.environ, "RAG_HOME": str(tmp_path), "RAG_EMBEDDER": "hash", "HF_HUB_OFFLINE": "1",
           # a server that is not there: asking the model would fail the command
           "RAG_LLM_BASE_URL": "http://127.0.0.1:9/v1", "RAG_LLM_MODEL": "none"}
    cmd = [sys.executable, "-m", "rag.cli", "ask", "What space do Poincaré embeddings use?", "--json"]
    proc = subprocess.run(cmd + ["--year", "1999", "--category", "cs.LG"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-800:]
    answer = json.loads(proc.stdout)
    assert answer["abstained"] and answer["sources"] == [] and answer["answer"].startswith(CANNOT_ANSWER)
    assert "year 1999, category cs.LG" in answer["answer"]
    assert answer["filter"] == where_filter((1999, 1999), ["cs.LG"])
    bad = subprocess.run(cmd + ["--year", "recent"], env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("rag: error: year 'recent' is not a year")


def test_ui_settings_filters_reach_the_pipeline(dated_store):
    """The chat's Year box and Categories menu: answers come from the matching papers; a bad year is a message."""
    from rag.generators.base import FakeGenerator
    from rag.settings import Settings
    from ui.app import build_app

    store, embedder, papers = dated_store
    pipeline = _pipeline(store, embedder, FakeGenerator(["Poincaré embeddings use hyperbolic space [1]."]))
    demo = build_app(pipeline, Settings())
    respond = next(f.fn for f in demo.fns.values() if getattr(f.fn, "__name__", "") == "respond")
    poincare = next(p for p in papers if p.title.startswith("Poincaré"))
    question = "What space do Poincaré embeddings use?"
    turn = list(respond(question, [], 5, 64, "Ask", str(poincare.year), ["cs.LG"]))[-1][4][-1]
    assert not turn["answer"].abstained
    assert all(h.paper.year == poincare.year and "cs.LG" in h.paper.categories for h in turn["answer"].sources)
    turn = list(respond(question, [], 5, 64, "Ask", "1999", []))[-1][4][-1]
    assert turn["answer"].abstained and "matches the filter (year 1999)" in turn["answer"].answer
    turn = list(respond(question, [], 5, 64, "Ask", "soon", []))[-1][4][-1]
    assert turn["answer"] is None and "year 'soon' is not a year" in turn["error"]


def _pipeline(store, embedder, generator):
    """The product's pipeline (rag.build.build_pipeline) over this store, with a fake generator."""
    from rag.build import Parts, build_pipeline
    from rag.settings import DEFAULTS

    return build_pipeline(DEFAULTS, parts=Parts(DEFAULTS, embedder, store, store.client), generator=generator)
