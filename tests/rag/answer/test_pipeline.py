import pytest

from rag.errors import InputError
from rag.text import CANNOT_ANSWER
from rag.types import AbstainReason, Answer


def test_answer_with_checked_citation_and_contract_fields(make_pipeline):
    pipeline, gen = make_pipeline(["3DIEBench has renderings of 3D models from 55 classes [1]."])
    answer = pipeline.ask("How many classes does the 3DIEBench dataset of 3D model renderings have?")
    assert not answer.abstained
    assert answer.sources[0].paper.title.startswith("Self-supervised learning of Split")
    (c,) = answer.citations
    assert c.supported and c.title == answer.sources[0].paper.title
    data = answer.to_json()
    assert set(data) >= {"question", "answer", "abstained", "citations", "sources", "timings", "model"}
    assert set(data["timings"]) >= {"retrieve_s", "first_token_s", "total_s"}
    assert data["sources"][0]["rank"] == 1
    # the prompt numbered the sources and carried the question
    user = gen.calls[0][1]["content"]
    assert "[1] Self-supervised learning of Split" in user and "3DIEBench" in user


def test_stream_yields_tokens_then_the_answer(make_pipeline):
    pipeline, _ = make_pipeline(["3DIEBench has 55 classes [1]."])
    items = list(pipeline.stream("How many classes does the 3DIEBench dataset of 3D model renderings have?"))
    assert isinstance(items[-1], Answer)
    assert "".join(x for x in items[:-1]) == "3DIEBench has 55 classes [1]."


def test_model_refusal_becomes_abstention_with_related_papers(make_pipeline):
    pipeline, _ = make_pipeline([CANNOT_ANSWER])
    answer = pipeline.ask("Which hyperbolic embedding method reaches the best mean rank on noun hierarchies?")
    assert answer.abstained and answer.answer == CANNOT_ANSWER and answer.citations == []
    assert answer.abstain_reason is AbstainReason.MODEL and answer.related


def test_weak_evidence_refuses_without_calling_the_model(make_pipeline):
    pipeline, gen = make_pipeline(["Invented answer [1]."])
    answer = pipeline.ask("What is the best recipe for sourdough bread?")
    assert answer.abstained and answer.abstain_reason is AbstainReason.WEAK_EVIDENCE and gen.calls == []


def test_an_unsupported_answer_is_never_shown_and_is_refused(make_pipeline):
    pipeline, _ = make_pipeline(["The benchmark reports 91.4 percent top-1 accuracy on ImageNet [1]."])
    items = list(pipeline.stream("How many classes does the 3DIEBench dataset of 3D model renderings have?"))
    answer = items[-1]
    assert "91.4" in answer.draft and all("91.4" not in x for x in items[:-1])
    assert answer.abstained and answer.abstain_reason is AbstainReason.UNSUPPORTED


def test_an_unsupported_sentence_is_dropped_and_the_backed_one_kept(make_pipeline):
    reply = "3DIEBench has renderings of 3D models from 55 classes [1]. It was built on the Moon [1]."
    pipeline, _ = make_pipeline([reply])
    answer = pipeline.ask("How many classes does the 3DIEBench dataset of 3D model renderings have?")
    assert not answer.abstained and "Moon" not in answer.answer and "55 classes" in answer.answer
    assert answer.evidence["rejected"] == 1


def test_a_quantity_question_is_answered_only_by_a_sentence_with_its_number(make_pipeline):
    pipeline, _ = make_pipeline(["3DIEBench has renderings of 3D models from many classes [1]."])
    answer = pipeline.ask("How many classes does the 3DIEBench dataset of 3D model renderings have?")
    assert answer.abstained and answer.abstain_reason is AbstainReason.NOT_RESPONSIVE
    pipeline, _ = make_pipeline(["3DIEBench has renderings of 3D models from 55 classes [1]."])
    assert "55 classes" in pipeline.ask("How many classes does the 3DIEBench dataset of 3D model renderings have?").answer


@pytest.mark.parametrize("question", ["", "   ", "x" * 2001])
def test_bad_questions_get_clear_errors(make_pipeline, question):
    pipeline, gen = make_pipeline()
    with pytest.raises(InputError):
        pipeline.ask(question)
    assert gen.calls == []


def test_follow_up_retrieves_the_paper_of_the_conversation(make_pipeline):
    history = [{"role": "user", "content": "Which paper embeds symbolic data in a Poincaré ball?"},
               {"role": "assistant", "content": "Poincaré Embeddings does, in hyperbolic space [1]."}]
    pipeline, gen = make_pipeline(["They outperform Euclidean embeddings on data with latent hierarchies [1]."])
    answer = pipeline.ask("What do they outperform?", history=history)
    assert answer.sources[0].paper.title.startswith("Poincaré Embeddings")
    assert not answer.abstained
    assert "Poincaré ball" in gen.calls[0][1]["content"]
