"""rag.summarize over the tiny store: cut-off, extractive evidence, map-reduce, citation checks, abstention, JSON."""
import json

import pytest

from rag.answer.voice import is_first_person

from rag.text import markers_in, split_sentences
from rag.text import CANNOT_ANSWER
from rag.answer.summarize import Summarizer
from rag.types import Summary
from rag.settings import SummaryConfig
from rag.answer.selection import apply_cutoff, topic_query
from rag.answer.drafts import batches, renumber, tidy
from rag.types import Answer, Hit, Paper

# The hashing embedder gives lower cosines than MiniLM, so the dense floor is lowered for these tests.
TINY_CONFIG = SummaryConfig(min_relative=0.5, min_dense=0.15)
LANGUAGE = {"Discovering Latent Knowledge in Language Models Without Supervision",
            "The Linear Representation Hypothesis and the Geometry of Large Language Models",
            "Grounded Language Acquisition From Object and Action Imagery"}
CONTRACT_KEYS = {"question", "answer", "abstained", "citations", "sources", "timings", "model"}


@pytest.fixture()
def make_summarizer(tiny_store):
    """A Summarizer over the tiny store (relative-score fusion, as in the settings) with queued replies."""
    from rag.answer.citations import SupportChecker
    from rag.generators.base import FakeGenerator
    from rag.retrieve import HybridRetriever

    _, store, embedder = tiny_store

    def make(replies=(), **config):
        generator = FakeGenerator(replies)
        retriever = HybridRetriever(store, embedder, fusion="relative_score")
        cfg = SummaryConfig(**{**TINY_CONFIG.__dict__, **config})
        return Summarizer(retriever, generator, SupportChecker(embedder), config=cfg), generator
    return make


def titles(hits):
    return {h.paper.title for h in hits}


def test_topic_query_drops_the_instruction_words():
    assert topic_query("Summarize what the collection says about hyperbolic embeddings.") == "hyperbolic embeddings"
    assert topic_query("Summarize the papers on implicit neural representations (INRs).") == \
        "implicit neural representations (INRs)"
    assert topic_query("hyperbolic embeddings") == "hyperbolic embeddings"
    assert topic_query("Summarize what these papers say about knowledge graph embeddings.") == \
        "knowledge graph embeddings"
    assert topic_query("What approaches do these papers take to compositional generalization?") == \
        "compositional generalization"
    assert topic_query("Give an overview of image segmentation in these papers.") == "image segmentation"
    assert topic_query("Papers on graph neural networks") == "Papers on graph neural networks"  # not an instruction


def test_cutoff_is_relative_to_the_best_paper_and_bounded():
    def hit(i, score, dense):
        return Hit(paper=Paper(f"p{i}", f"T{i}", "x."), passages=["x."], score=score, dense=dense)
    pool = [hit(0, 0.9, 0.6), hit(1, 0.5, 0.5), hit(2, 0.3, 0.6), hit(3, 0.8, 0.1), hit(4, 0.2, 0.2)]
    kept, left_out = apply_cutoff(pool, SummaryConfig(min_relative=0.35, min_dense=0.25))
    assert [h.paper.paper_id for h in kept] == ["p0", "p1"]                 # p2 below 0.35*0.9, p3 cosine too low
    assert [h.paper.paper_id for h in left_out] == ["p2", "p3", "p4"]      # the next ones, best first
    kept, _ = apply_cutoff(pool, SummaryConfig(min_relative=0.0, min_dense=0.0, max_papers=3))
    assert len(kept) == 3


def test_cutoff_drops_papers_whose_abstract_does_not_back_the_topic():
    def hit(i, score):
        return Hit(paper=Paper(f"p{i}", f"T{i}", "x."), passages=["x."], score=score, dense=0.5)
    pool = [hit(0, 0.9), hit(1, 0.8), hit(2, 0.7), hit(3, 0.1)]
    asked = []

    def support(h):
        asked.append(h.paper.paper_id)
        return {"p0": 0.7, "p1": 0.3, "p2": 0.5, "p3": 0.9}[h.paper.paper_id]
    kept, left_out = apply_cutoff(pool, SummaryConfig(min_relative=0.5, min_dense=0.0, min_support=0.45), support)
    assert [h.paper.paper_id for h in kept] == ["p0", "p2"]
    assert [h.paper.paper_id for h in left_out] == ["p1", "p3"]
    assert "p3" not in asked          # below the retrieval cut-off: never scored


def test_cutoff_keeps_the_relevant_papers_and_lists_the_ones_left_out(make_summarizer):
    summarizer, _ = make_summarizer()
    kept, left_out, _ = summarizer.select("language models")
    assert titles(kept) == LANGUAGE
    assert left_out and not titles(left_out) & LANGUAGE


def test_quotes_are_exact_abstract_sentences(make_summarizer):
    summarizer, _ = make_summarizer()
    summary = summarizer.summarize("language models")
    assert len(summary.papers) == 3
    for p in summary.papers:
        assert 1 <= len(p.quotes) <= 3 and p.best in p.quotes
        assert all(q in p.hit.paper.abstract for q in p.quotes)
        assert set(p.quotes) <= set(split_sentences(p.hit.paper.abstract))


def test_every_sentence_cites_and_citations_are_supported(make_summarizer):
    reply = ("The method finds a direction in activation space that recovers truthful answers without labels [1]. "
             "Several papers study language. "
             "The linear representation hypothesis is formalized using counterfactual pairs [2]. "
             "A model learns word meanings from 61 hours of video [2].")
    summarizer, gen = make_summarizer([reply])
    summary = summarizer.summarize("language models")
    assert len(gen.calls) == 1                         # three papers: a single pass, no overview step
    sentences = [s for para in summary.answer.split("\n\n") for s in split_sentences(para)]
    assert sentences and all(markers_in(s) for s in sentences)
    assert summary.citations and all(c.supported for c in summary.citations)
    assert set(markers_in(summary.answer)) == {c.marker for c in summary.citations} == {1, 2, 3}
    assert "Several papers study language" not in summary.answer
    assert "61 hours of video [3]" in summary.answer   # the wrong marker was repaired to the right paper


def test_unsupported_sentence_is_replaced_by_an_extractive_one(make_summarizer):
    reply = "Latent knowledge methods reach 99 percent accuracy on ImageNet [1]."   # 99: not in the paper
    summarizer, _ = make_summarizer([reply])
    summary = summarizer.summarize("language models")
    assert "99 percent" not in summary.answer
    assert summary.evidence["replaced"] + summary.evidence["dropped"] >= 1
    assert all(c.supported for c in summary.citations) and not summary.flagged
    # the replacement is the paper's own sentence, in the third person: no quoted "X reports" and no "we"
    assert 'reports: "' not in summary.answer and "The authors find a causal inner product" in summary.answer
    assert not any(is_first_person(s) for s in split_sentences(summary.answer))


def test_unsupported_sentence_is_flagged_when_asked(make_summarizer):
    reply = "Latent knowledge methods reach 99 percent accuracy on ImageNet [1]."
    summarizer, _ = make_summarizer([reply], unsupported="flag")
    summary = summarizer.summarize("language models")
    assert "99 percent accuracy on ImageNet [1] (unverified)." in summary.answer
    (flag,) = summary.flagged
    assert flag["reason"] == "unsupported" and flag["markers"] == [1]
    assert summary.to_json()["flagged"] == summary.flagged


def test_map_reduce_renumbers_batches_and_adds_an_overview(make_summarizer):
    replies = ["Truthful answers are recovered from language model activations without labels [1].",   # batch 1
               "A model learns word meanings from 61 hours of video [1].",                              # batch 2
               "The papers probe what language models represent [1][2]."]                               # overview
    summarizer, gen = make_summarizer(replies, batch_size=2)
    summary = summarizer.summarize("language models")
    assert len(gen.calls) == 3
    assert "[1] " in gen.calls[1][1]["content"] and "[3] " not in gen.calls[1][1]["content"]  # local numbering
    grounded = next(p.marker for p in summary.papers if p.hit.paper.title.startswith("Grounded"))
    assert f"61 hours of video [{grounded}]" in summary.answer                                  # renumbered
    assert "[3] " in gen.calls[2][1]["content"]                                                  # overview: all papers


def test_uncited_papers_get_an_extractive_sentence(make_summarizer):
    summarizer, _ = make_summarizer([""])               # the model wrote nothing
    summary = summarizer.summarize("language models")
    assert not summary.abstained
    assert set(markers_in(summary.answer)) == {1, 2, 3}
    assert all(c.supported for c in summary.citations)


def test_no_relevant_paper_abstains(make_summarizer):
    summarizer, gen = make_summarizer()
    summary = summarizer.summarize("medieval castle architecture")
    assert summary.abstained and summary.answer == CANNOT_ANSWER
    assert summary.citations == [] and summary.papers == [] and gen.calls == []


def test_progress_is_reported(make_summarizer):
    summarizer, _ = make_summarizer()
    seen = []
    summarizer.summarize("language models", on_progress=lambda msg, done, total: seen.append((msg, done, total)))
    assert ("reading 2 of 3 papers", 2, 3) in seen
    assert any(msg.startswith("writing about papers 1-3") for msg, _, _ in seen)


def test_stream_yields_text_then_the_summary(make_summarizer):
    summarizer, _ = make_summarizer(["A model learns word meanings from 61 hours of video [3]."])
    items = list(summarizer.summarize("language models", stream=True))
    assert isinstance(items[-1], Summary) and all(isinstance(x, str) for x in items[:-1])
    assert "61 hours" in "".join(items[:-1])


def test_json_has_the_contract_keys_and_the_paper_table(make_summarizer):
    summarizer, _ = make_summarizer(["A model learns word meanings from 61 hours of video [3]."])
    data = json.loads(json.dumps(summarizer.summarize("Summarize the papers on language models.").to_json()))
    assert set(data) >= CONTRACT_KEYS | {"papers", "left_out"}
    assert data["question"] == "Summarize the papers on language models." and data["abstained"] is False
    assert set(data["timings"]) >= {"retrieve_s", "first_token_s", "total_s"}
    assert [p["marker"] for p in data["papers"]] == [1, 2, 3]
    assert all(set(p) >= {"marker", "paper_id", "title", "contribution", "quote"} for p in data["papers"])
    assert [s["title"] for s in data["sources"]] == [p["title"] for p in data["papers"]]
    assert data["left_out"] and set(data["left_out"][0]) >= {"paper_id", "title", "score"}
    for c in data["citations"]:
        assert set(c) >= {"marker", "paper_id", "title", "supported", "quote"}


def test_pipeline_summarize_hook_delegates(make_pipeline):
    pipeline, _ = make_pipeline(["Poincaré embeddings embed symbolic data into hyperbolic space [1]."])
    summary = pipeline.summarize("hyperbolic embeddings")
    assert isinstance(summary, Answer) and isinstance(summary, Summary)
    assert pipeline.summarize("medieval castle architecture").abstained


def test_batches_are_near_equal():
    assert [len(b) for b in batches(list(range(10)), 4)] == [4, 3, 3]
    assert [len(b) for b in batches(list(range(4)), 5)] == [4]
    assert batches([], 4) == []


def test_renumber_maps_local_markers_to_global_ones():
    assert renumber("A [1]. B [2][9]. C [1, 2].", 4, 2) == "A [5]. B [6]. C [5][6]."


def test_tidy_drops_copied_titles_and_a_cut_off_last_sentence():
    text = "Poincaré Embeddings For this purpose, we embed data [1]. Due to the underlying geometry, this allows [1]"
    assert tidy(text, ["Poincaré Embeddings"]) == "For this purpose, we embed data [1]."
    assert tidy("One sentence cut off [1]", []) == "One sentence cut off [1]"   # nothing else to keep
    listing = "Bounds on the tradeoff\nEmbedding data into hyperbolic space\nMERU: a contrastive model [1][2]"
    assert tidy(listing, []) == ""
    assert tidy("A finding [1].\nA list item\nAnother finding [2].", []) == "A finding [1]. Another finding [2]."
    cut = "[1] First point [1].\n[2] Second point [2]. Third point cut off by the"
    assert tidy(cut, []) == "First point [1]. Second point [2]."


def test_a_list_of_titles_is_not_kept_as_a_sentence(make_summarizer):
    reply = ("Discovering Latent Knowledge in Language Models Without Supervision, The Linear Representation "
             "Hypothesis and the Geometry of Large Language Models [1][2].")
    summarizer, _ = make_summarizer([reply])
    summary = summarizer.summarize("language models")
    assert summary.evidence["dropped"] >= 1
    assert "Without Supervision, The Linear" not in summary.answer
