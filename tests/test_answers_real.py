"""The answer paths on the real bundled models and the bundled abstracts: the failure classes the answers
issue found (echoes, supported-but-not-responsive sentences, unknown terms, follow-ups that lose their paper,
two-part questions, first person, text taken back while streaming), and questions about several papers."""
from __future__ import annotations

import os

import pytest

from rag.answer.voice import is_echo, is_first_person
from rag.text import split_sentences
from rag.types import AbstainReason, Answer
from tests.support.data import shared_models_dir

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    from rag.build import build_pipeline
    from rag.settings import settings_from_env

    env = {**os.environ, "RAG_HOME": str(tmp_path_factory.mktemp("rag-home")),
           "RAG_MODELS_DIR": os.environ.get("RAG_MODELS_DIR") or str(shared_models_dir())}
    return build_pipeline(settings_from_env(env), progress=False)


def run(pipeline, question, **kw) -> tuple[str, Answer]:
    items = list(pipeline.stream(question, **kw))
    return "".join(items[:-1]), items[-1]


def sentences(answer: Answer) -> list[str]:
    return split_sentences(answer.answer)


def test_streams_only_checked_third_person_sentences_and_takes_none_back(real):
    shown, answer = run(real, "What does the SIE predictor use to learn equivariant representations, and what "
                              "dataset do its authors introduce?")
    assert shown == answer.answer and not answer.abstained
    assert "hypernetwork" in answer.answer.lower() and "3DIEBench" in answer.answer
    assert not any(is_first_person(s) for s in sentences(answer))
    assert answer.citations and all(c.supported and c.responsive for c in answer.citations)
    assert 0 < answer.timings["first_sentence_s"] <= answer.timings["total_s"]


def test_a_paraphrased_question_is_answered_not_echoed(real):
    question = ("Which picture-caption model places pictures and captions in a negatively curved space so that "
                "generic captions sit above specific images?")
    _, answer = run(real, question)
    assert not answer.abstained and "MERU" in answer.answer
    assert not any(is_echo(s, question) for s in sentences(answer))


def test_a_name_no_paper_mentions_is_refused_and_named(real):
    _, answer = run(real, "How does the Mamba architecture improve hyperbolic image-text representations?")
    assert answer.abstained and answer.abstain_reason is AbstainReason.UNGROUNDED
    assert answer.missing_terms == ["Mamba"] and "No paper in the collection mentions 'Mamba'" in answer.answer


def test_a_supported_sentence_that_does_not_answer_is_not_shown(real):
    _, answer = run(real, "What learning rate was used to train the Poincaré embeddings?")
    assert answer.abstained, answer.answer     # the paper states no learning rate; its other sentences are no answer


def test_a_follow_up_keeps_its_paper_over_three_turns(real):
    history = [{"role": "user", "content": "Is there a paper that embeds symbolic data into a Poincaré ball?"},
               {"role": "assistant", "content": "Yes, Poincaré embeddings learn hierarchical representations of "
                                                "symbolic data in an n-dimensional Poincaré ball [1]."},
               {"role": "user", "content": "And is there an image-text model with hyperbolic representations?"},
               {"role": "assistant", "content": "MERU is a contrastive model that yields hyperbolic "
                                                "representations of images and text [1]."}]
    _, answer = run(real, "What kind of optimization do the Poincaré embedding authors use to learn them?",
                    history=history)
    assert answer.sources[0].paper.title.startswith("Poincaré Embeddings")
    assert not answer.abstained and "Riemannian" in answer.answer


def test_a_question_about_several_papers_names_each_of_them(real):
    _, answer = run(real, "Which papers use hyperbolic space for computer vision problems such as category "
                          "discovery or image-text representation, and what are their methods named?")
    assert answer.route == "multi" and not answer.abstained
    cited = {c.title for c in answer.citations}
    assert {"Hyperbolic Category Discovery", "Hyperbolic Image-Text Representations"} <= cited
    assert not any(is_first_person(s) for s in sentences(answer))


def test_a_comparison_states_each_papers_side(real):
    _, answer = run(real, "How do MERU and HypCD differ in what they use hyperbolic space for?")
    assert answer.route == "multi" and len(answer.citations) >= 2
    assert {"Hyperbolic Category Discovery", "Hyperbolic Image-Text Representations"} <= {c.title for c in
                                                                                           answer.citations}


def test_a_summary_cites_every_sentence_in_the_third_person(real):
    summary = real.summarize("Summarize what the collection says about hyperbolic embeddings.")
    assert not summary.abstained and len(summary.papers) >= 3
    assert all(c.supported for c in summary.citations)
    assert 'reports: "' not in summary.answer
    assert not any(is_first_person(s) for s in sentences(summary))
