"""The multi-paper path with a fake model: every relevant paper gets one checked, third-person sentence."""
from rag.answer.voice import is_first_person
from rag.settings import MultiConfig
from rag.text import markers_in, split_sentences
from rag.types import Summary


def test_each_selected_paper_gets_a_sentence_and_first_person_is_rewritten(make_pipeline):
    # the hashing embedder's support scores are low: the cut-off is the retrieval one only, for this test
    pipeline, gen = make_pipeline(lambda messages: "We learn representations in a space [1].",
                                  multi=MultiConfig(min_support=0.0))
    items = list(pipeline.stream("Which papers learn representations in hyperbolic or hyperspherical space, "
                                 "and what does each propose?"))
    answer = items[-1]
    assert isinstance(answer, Summary) and answer.route == "multi" and not answer.abstained
    assert "".join(items[:-1]) == answer.answer                      # streamed paper by paper, never taken back
    titles = {p.hit.paper.title.split(":")[0] for p in answer.papers}
    assert {"Poincaré Embeddings for Learning Hierarchical Representations", "HYPO"} <= titles
    assert set(markers_in(answer.answer)) == {p.marker for p in answer.papers}   # every selected paper is cited
    assert not any(is_first_person(s) for s in split_sentences(answer.answer))
    assert all(c.supported and c.responsive for c in answer.citations)
    assert len(gen.calls) == len(answer.papers)                       # one short one-paper prompt each
    assert all(call[1]["content"].count("\n[1] ") == 1 for call in gen.calls)


def test_a_comparison_takes_the_papers_it_names(make_pipeline):
    pipeline, _ = make_pipeline(lambda messages: "It does something [1].")
    answer = pipeline.ask("How do SIE and LLaMA-2 differ in what they represent?")
    assert answer.route == "multi"
    assert [p.hit.paper.title[:20] for p in answer.papers] == ["Self-supervised lear", "The Linear Represent"]


def test_a_multi_paper_question_about_nothing_in_the_collection_is_refused(make_pipeline):
    pipeline, gen = make_pipeline(["Invented [1]."])
    answer = pipeline.ask("Which papers apply RLHF to reduce hallucinations?")
    assert answer.abstained and answer.missing_terms == ["RLHF"] and gen.calls == []
