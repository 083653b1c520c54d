"""The single-paper path with a fake model: checked streaming, parts, follow-ups, refusals that explain."""
from rag.answer.voice import is_first_person
from rag.text import CANNOT_ANSWER, split_sentences
from rag.types import AbstainReason, Answer

Q55 = "How many classes does the 3DIEBench dataset of 3D model renderings have?"


def shown_and_answer(pipeline, question, **kw):
    items = list(pipeline.stream(question, **kw))
    assert isinstance(items[-1], Answer) and all(isinstance(x, str) for x in items[:-1])
    return "".join(items[:-1]), items[-1]


def test_what_streams_is_exactly_the_checked_answer_never_taken_back(make_pipeline):
    reply = "We find 3DIEBench has 55 classes [1]. The Moon is made of cheese [1]. 3DIEBench has 55 classes [1]."
    pipeline, _ = make_pipeline([reply])
    shown, answer = shown_and_answer(pipeline, Q55)
    assert shown == answer.answer and "Moon" not in shown
    assert answer.answer.count("55 classes") == 1                       # the repeat was not shown twice
    assert not any(is_first_person(s) for s in split_sentences(answer.answer))     # "We find" -> "The authors find"
    assert {"first_token_s", "first_sentence_s", "total_s"} <= set(answer.timings)
    assert answer.to_json()["citations"][0]["responsive"] is True and answer.to_json()["route"] == "single"


def test_an_echo_of_the_question_is_not_an_answer(make_pipeline):
    pipeline, gen = make_pipeline([f"{Q55[:-1]} [1]?", "This is the sentence it copies."])
    shown, answer = shown_and_answer(pipeline, Q55)
    assert answer.abstained and answer.abstain_reason is AbstainReason.NOT_RESPONSIVE
    assert shown == answer.answer == CANNOT_ANSWER
    assert [r["why"] for r in answer.rejected] == ["restates the question", "no cited paper backs it"]
    assert "Copy the one sentence" in gen.calls[1][1]["content"]     # asked once more, to copy a sentence


def test_a_two_part_question_names_the_part_the_papers_do_not_answer(make_pipeline):
    pipeline, gen = make_pipeline(["3DIEBench has renderings of 3D models from 55 classes [1]."])
    _, answer = shown_and_answer(pipeline, "How many classes does the 3DIEBench dataset of 3D model renderings have, "
                                           "and which GPU trained it?")
    assert not answer.abstained and "55" in answer.answer
    assert "No paper in the collection mentions 'GPU', so \"Which GPU trained it?\" is not answered." in answer.answer


def test_a_name_no_paper_mentions_is_refused_with_the_reason(make_pipeline):
    pipeline, gen = make_pipeline(["Invented [1]."])
    _, answer = shown_and_answer(pipeline, "Does the linear representation hypothesis hold for Mamba models?")
    assert answer.abstained and gen.calls == []
    assert answer.abstain_reason is AbstainReason.UNGROUNDED and answer.missing_terms == ["Mamba"]
    assert answer.answer == f"{CANNOT_ANSWER} No paper in the collection mentions 'Mamba'."
    data = answer.to_json()
    assert data["abstain_reason"] == "ungrounded" and data["missing_terms"] == ["Mamba"] and data["related"]


def test_a_follow_up_keeps_its_paper_and_the_model_is_told_which_it_is(make_pipeline):
    history = [{"role": "user", "content": "Which paper embeds symbolic data in a Poincaré ball?"},
               {"role": "assistant", "content": "Poincaré embeddings embed symbolic data into hyperbolic space [1]."},
               {"role": "user", "content": "And which paper learns word meanings from video of children?"},
               {"role": "assistant", "content": "A model trained on images paired with words from children [1]."}]
    pipeline, gen = make_pipeline(["They outperform Euclidean embeddings on data with latent hierarchies [1]."])
    _, answer = shown_and_answer(pipeline, "What do the Poincaré ones outperform?", history=history)
    assert answer.sources[0].paper.title.startswith("Poincaré Embeddings") and not answer.abstained
    assert 'The question is about the paper "Poincaré Embeddings' in gen.calls[0][1]["content"]


def test_a_follow_up_by_place_takes_that_paper_of_the_last_answer(make_pipeline, tiny_papers):
    poincare, grounded = tiny_papers[1], tiny_papers[3]
    history = [{"role": "user", "content": "Which papers learn representations?"},
               {"role": "assistant", "content": "Two do [1][2].", "papers": [poincare.paper_id, grounded.paper_id]}]
    pipeline, gen = make_pipeline(["The model learns word meanings from 61 hours of video [1]."])
    _, answer = shown_and_answer(pipeline, "How many hours of video did the second one use?", history=history)
    assert answer.sources[0].paper.paper_id == grounded.paper_id and "61" in answer.answer
