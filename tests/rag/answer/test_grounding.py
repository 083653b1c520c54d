"""The question's key terms, and the names no paper mentions (alone, or together)."""
from rag.answer.grounding import key_terms, mentions, ungrounded_names
from rag.types import Paper

SIE = Paper("sie", "Split Invariant Equivariant representations",
            "We introduce 3DIEBench, a dataset of 55 classes. We propose SIE, a hypernetwork-based predictor.")
MERU = Paper("meru", "Hyperbolic Image-Text Representations",
             "We propose MERU, a contrastive model that yields hyperbolic representations of images and text.")
COLLECTION = [SIE, MERU]


def find(term):
    return COLLECTION


def test_names_and_phrases_are_found_and_question_scaffolding_is_not():
    terms = key_terms("Which paper proposes SIE, and how many classes does 3DIEBench have with Mamba models?")
    names = [t.text for t in terms if t.name]
    assert names == ["SIE", "3DIEBench", "Mamba"]
    assert all(t.text.lower() not in ("which", "paper", "proposes", "models") for t in terms)
    assert [t.text for t in key_terms("Is there a study of toddler head cameras?") if not t.name] == [
        "toddler head cameras"]


def test_a_capital_that_starts_the_question_is_not_a_name():
    assert not [t for t in key_terms("Hyperbolic embeddings of what?") if t.name]


def test_names_match_case_separators_and_plurals():
    paper = Paper("x", "Llama 2 and LLM agents", "We study Gaussian processes on GPT-2.")
    for question in ["Does LLaMA-2 help?", "Which LLMs are used?", "Are Gaussian Processes used?", "And GPT2?"]:
        assert all(mentions(t, paper) for t in key_terms(question) if t.name), question


def test_a_name_no_paper_mentions_is_named():
    missing, why = ungrounded_names(key_terms("Does the linear representation hypothesis hold for Mamba?"), find)
    assert [t.text for t in missing] == ["Mamba"] and why == "No paper in the collection mentions 'Mamba'."


def test_names_that_no_single_paper_mentions_together_are_named():
    missing, why = ungrounded_names(key_terms("How does MERU do on 3DIEBench?"), find)
    assert why == "No paper in the collection mentions both 'MERU' and '3DIEBench'."


def test_names_one_paper_mentions_together_are_grounded():
    assert ungrounded_names(key_terms("How many classes does 3DIEBench have for SIE?"), find) == ([], "")
    assert ungrounded_names(key_terms("What is a good hyperbolic model?"), find) == ([], "")


def test_a_topic_another_paper_is_about_and_the_best_paper_is_not_is_a_conflict():
    from rag.answer.grounding import topic_conflicts

    fits = {("forecast stock returns", "meru"): 0.12, ("forecast stock returns", "sie"): 0.55,
            ("hyperbolic representations", "meru"): 0.9}
    fit = lambda term, paper: fits.get((term.text, paper.paper_id), 0.0)
    terms = key_terms("Which paper uses hyperbolic representations to forecast stock returns?")
    found = topic_conflicts(terms, MERU, fit, lambda t: COLLECTION, min_fit=0.5, min_gap=0.3)
    assert [(t.text, p.paper_id) for t, p in found] == [("forecast stock returns", "sie")]
    # the same phrase fitting the best paper nearly as well (a paraphrase) is no conflict
    fits[("forecast stock returns", "meru")] = 0.4
    assert topic_conflicts(terms, MERU, fit, lambda t: COLLECTION, min_fit=0.5, min_gap=0.3) == []
