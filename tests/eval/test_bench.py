"""rag.bench: the synthetic corpus, the statistics helpers, and a no-model smoke run of ingest and retrieval."""
from __future__ import annotations

import json

import pytest

from eval.bench import cli, measure, report, synthetic
from rag.corpus import load_corpus
from rag.records import normalize_title


def test_synthetic_papers_are_deterministic():
    assert synthetic.synthetic_papers(30, seed=3) == synthetic.synthetic_papers(30, seed=3)
    assert synthetic.synthetic_papers(30, seed=3) != synthetic.synthetic_papers(30, seed=4)
    assert synthetic.synthetic_papers(10) == synthetic.synthetic_papers(30)[:10]   # a prefix of a longer run


def test_synthetic_papers_are_distinct_and_valid(tmp_path):
    papers = synthetic.synthetic_papers(500)
    assert len({p.paper_id for p in papers}) == 500
    assert len({normalize_title(p.title) for p in papers}) == 500
    for p in papers:
        assert p.title.strip() and p.abstract.strip()
        assert 150 <= len(p.abstract.split()) <= 250
        assert " ".join(p.abstract.split()) == p.abstract
    # they survive the real loader: nothing rejected, nothing merged as a duplicate
    path = tmp_path / "synth.jsonl"
    path.write_text("\n".join(json.dumps({"id": p.paper_id, "title": p.title, "abstract": p.abstract})
                              for p in papers), encoding="utf-8")
    assert [p.paper_id for p in load_corpus([path])] == [p.paper_id for p in papers]


def test_retrieval_queries_are_fixed():
    queries = synthetic.retrieval_queries([q for q, _ in cli.QUESTIONS])
    assert len(queries) == 50 and len(set(queries)) > 45
    assert queries == synthetic.retrieval_queries([q for q, _ in cli.QUESTIONS])
    assert queries[0] == cli.QUESTIONS[0][0]


def test_percentile_matches_numpy_linear():
    xs = list(range(1, 101))
    assert measure.percentile(xs, 50) == pytest.approx(50.5)
    assert measure.percentile(xs, 95) == pytest.approx(95.05)
    assert measure.percentile([3.0], 95) == 3.0
    assert measure.percentile([], 50) is None
    assert measure.percentile([None, 2.0, 4.0], 50) == 3.0


def test_summarize():
    s = measure.summarize([4.0, 1.0, None, 3.0, 2.0])
    assert s == {"n": 4, "p50": 2.5, "p95": pytest.approx(3.85), "mean": 2.5, "min": 1.0, "max": 4.0}
    assert measure.summarize([])["p50"] is None


def test_ingest_and_retrieval_smoke(tmp_path):
    from rag.embed import HashEmbedder

    embedder = HashEmbedder()
    papers = synthetic.synthetic_papers(200)
    figures, store = measure.bench_ingest(papers, tmp_path / "chroma", embedder, progress=False)
    assert set(figures) == {"papers", "chunks", "seconds", "papers_per_s"}
    assert figures["papers"] == 200 and figures["chunks"] >= 200 and figures["papers_per_s"] > 0
    latency = measure.bench_retrieval(store, embedder, synthetic.retrieval_queries([q for q, _ in cli.QUESTIONS], 12))
    assert set(latency) == {"papers", "queries", "p50_ms", "p95_ms", "mean_ms", "max_ms", "index_build_s"}
    assert latency["papers"] == 200 and latency["queries"] == 12
    assert 0 < latency["p50_ms"] <= latency["p95_ms"] <= latency["max_ms"]


def test_measure_answer_records_the_generation(tiny_settings):
    from rag.build import build_pipeline
    from rag.generators.base import FakeGenerator

    recorder = measure.RecordingGenerator(FakeGenerator(["3DIEBench has renderings of 3D models from 55 classes [1]."]))
    pipeline = build_pipeline(tiny_settings, generator=recorder, progress=False)
    question = "How many classes does the 3DIEBench dataset of 3D model renderings have?"
    row = measure.measure_answer(pipeline.ask, recorder, question, ["55"])
    assert row["reached_model"] and row["correct"] and not row["abstained"], row
    assert row["generated_tokens"] == 10            # FakeGenerator has no tokenizer: one piece per word
    assert row["prompt_tokens"] is None             # ... nor count_tokens
    assert 0 <= row["prefill_s"] <= row["first_token_s"] <= row["total_s"]
    summary = measure.summarize_answers([row])
    assert summary["correct"] == 1 and summary["total_s"] == row["total_s"]


def _result(**answers):
    return {"settings": {"papers": 2000},
            "startup": {"help": {"median_s": 0.4}, "warm_start": {"seconds": 6.0}, "first_run": None},
            "ingest": {"bundled": {"papers_per_s": 30.0}, "synthetic": {"papers_per_s": 25.0}},
            "retrieval": {"synthetic": {"p95_ms": 20.0}}, "answers": answers}


def test_check_targets():
    ours, base = {"first_token_s": 0.8, "total_s": 5.0, "correct": 3}, {"correct": 3}
    t = report.check_targets(_result(ours=ours, baseline=base))
    assert set(t) == set(report.TARGETS)
    assert t["first_token_s"]["pass"] is True and t["end_to_end_s"]["pass"] is False
    assert t["warm_start_s"]["pass"] is False and t["help_s"]["pass"] is True
    assert t["ingest_papers_per_s"]["value"] == 25.0 and t["answers_vs_baseline"]["pass"] is True
    assert "2000" in t["retrieval_p95_ms_at_20k"]["note"]
    assert report.check_targets(_result(ours=ours, baseline=None))["answers_vs_baseline"]["pass"] is None
    assert t["summary_10_papers_s"]["pass"] is None                     # not run
    timed = _result(ours=ours, baseline=base)
    timed["summary"] = {"total_s": 95.0}
    assert report.check_targets(timed)["summary_10_papers_s"]["pass"] is False


def test_bench_summary_reads_exactly_ten_papers(tmp_path):
    from rag.build import Parts, build_pipeline
    from rag.embed import HashEmbedder
    from rag.generators.base import FakeGenerator
    from rag.settings import Settings

    embedder = HashEmbedder()
    _, store = measure.bench_ingest(synthetic.synthetic_papers(40), tmp_path / "chroma", embedder, progress=False)
    pipeline = build_pipeline(Settings(), parts=Parts(Settings(), embedder, store, store.client),
                              generator=FakeGenerator(default="They learn representations [1]."))
    out = measure.bench_summary(pipeline, cli.SUMMARY_TOPIC)
    assert out["papers"] == 10 and out["total_s"] > 0 and out["citations"] >= 1


def test_ratios():
    r = measure.ratios({"first_token_s": 1.0, "total_s": 2.0, "correct": 3, "prompt_tokens": 300,
                      "decode_tokens_per_s": None},
                     {"first_token_s": 2.0, "total_s": 4.0, "correct": 0, "prompt_tokens": 600,
                      "decode_tokens_per_s": 10.0})
    assert r == {"prompt_tokens": 0.5, "prefill_s": None, "first_token_s": 0.5, "first_sentence_s": None,
                 "decode_tokens_per_s": None, "total_s": 0.5,
                 "correct": None}


def test_format_table_reads_a_whole_result():
    row = {"question": "q", "answer": "a", "abstained": False, "correct": True, "reached_model": True,
           "prompt_tokens": 400, "generated_tokens": 20, "retrieve_s": 0.05, "prefill_s": 0.7, "first_token_s": 0.9,
           "total_s": 2.0, "decode_tokens_per_s": 18.2}
    ours = measure.summarize_answers([row])
    result = _result(ours=ours, baseline=ours, ratio_ours_over_baseline=measure.ratios(ours, ours))
    result["startup"]["warm_start"]["steps"] = {"imports_s": 2.0, "embedder_s": 1.0}
    result["ingest"] = {"bundled": {"papers": 213, "chunks": 400, "seconds": 8.0, "papers_per_s": 26.6},
                        "synthetic": None}
    result["retrieval"] = {"bundled": {"papers": 213, "queries": 50, "p50_ms": 9.0, "p95_ms": 14.0, "mean_ms": 10.0,
                                       "max_ms": 20.0, "index_build_s": 0.2}, "synthetic": None}
    result["machine"] = {"cores": 2, "cpu": "x", "torch_threads": 2, "precision": "float32", "load_average": [1.0]}
    result["summary"] = {"topic": "t", "papers": 10, "total_s": 40.0, "citations": 10, "supported": 9, "flagged": 1}
    result["targets"] = report.check_targets(result)
    text = report.format_table(result)
    assert "over 10 papers: 40 s, 9/10 citations supported" in text
    assert "warm start" in text and "skipped" in text and "FAIL" in text and "not measured" in text
    json.dumps(result)


def test_synthetic_arxiv_file_reads_back_as_the_same_papers(tmp_path):
    papers = synthetic.synthetic_papers(50)
    assert len({p.categories for p in papers}) > 3 and all(p.date.startswith(str(p.year)) for p in papers)
    path = synthetic.write_arxiv_jsonl(papers, tmp_path / "arxiv.jsonl")
    back = load_corpus([path])
    assert [(p.paper_id, p.title, p.abstract, p.authors, p.year, p.date, p.categories) for p in back] == \
        [(p.paper_id, p.title, p.abstract, p.authors, p.year, p.date, p.categories) for p in papers]
    assert back[0].url == f"https://arxiv.org/abs/{papers[0].paper_id}"


def test_bench_ingest_of_a_file_goes_through_the_streaming_path(tmp_path):
    from rag.embed import HashEmbedder

    path = synthetic.write_arxiv_jsonl(synthetic.synthetic_papers(40), tmp_path / "arxiv.jsonl")
    figures, store = measure.bench_ingest(path, tmp_path / "chroma", HashEmbedder(), progress=False)
    assert figures["papers"] == 40 and len(store.paper_hashes()) == 40
