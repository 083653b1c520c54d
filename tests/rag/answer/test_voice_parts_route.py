"""Third person, echoes, the parts of a question, and which path a question takes."""
import json

import pytest

from rag.answer.parts import asks_quantity, split_parts
from rag.answer.route import MULTI, SINGLE, SUMMARY, route_question
from rag.answer.voice import is_echo, is_first_person, third_person
from tests.support.data import REPO


@pytest.mark.parametrize("sentence,expected", [
    ("We propose SIE, a predictor [1].", "The authors propose SIE, a predictor [1]."),
    ("In this paper, we show that our method works.", "The authors show that their method works."),
    ("Here, we introduce 3DIEBench [2].", "The authors introduce 3DIEBench [2]."),
    # a copied sentence's link to the abstract sentence before it points at nothing in the answer
    ("To this end, we introduce PANTHER [2].", "The authors introduce PANTHER [2]."),
    ("Based on these discoveries, we propose TruthPrInt [1].", "The authors propose TruthPrInt [1]."),
    ("Specifically, using diffusion geometry, we build densities [3].",
     "Using diffusion geometry, the authors build densities [3]."),
    ("Given that X holds, Y follows [1].", "Given that X holds, Y follows [1]."),
    ("Then we run X.", "Then the authors run X."),
    ("The second source proposes a probing method [6].", "This paper proposes a probing method [6]."),
    ("The first source states that X works [1].", "X works [1]."),
    ("Experiments show it helps us.", "Experiments show it helps them."),
    ("The US census data is used.", "The US census data is used."),
])
def test_third_person(sentence, expected):
    assert third_person(sentence) == expected
    assert not is_first_person(third_person(sentence))


def test_an_echo_says_nothing_beyond_the_question():
    q = "How many classes does the 3DIEBench dataset have?"
    assert is_echo("How many classes does the 3DIEBench dataset have [1]?", q)
    assert is_echo("The 3DIEBench dataset has classes [1].", q)
    assert not is_echo("The 3DIEBench dataset has 55 classes [1].", q)


def test_a_question_with_two_asks_has_two_parts():
    assert split_parts("What does MRL optimise, and on which datasets is it evaluated?") == [
        "What does MRL optimise?", "On which datasets is it evaluated?"]
    assert split_parts("What dataset did they introduce and how many classes does it have?") == [
        "What dataset did they introduce?", "How many classes does it have?"]
    assert split_parts("How do A and B differ in what they predict?") == ["How do A and B differ in what they predict?"]
    assert asks_quantity("How many classes does it have?") and not asks_quantity("Which classes?")


@pytest.mark.parametrize("question,route", [
    ("Which papers study hyperbolic embeddings, and what does each propose?", MULTI),
    ("How do SIE and MERU differ in what they predict?", MULTI),
    ("How does HypCD compare to MERU?", MULTI),
    ("Summarize what the collection says about hyperbolic embeddings.", SUMMARY),
    ("Give an overview of the papers on implicit neural representations.", SUMMARY),
    ("Which existing model do they compare it against?", SINGLE),
    ("In which language models were circular features found?", SINGLE),
    ("What method makes hallucination detection transfer across different LVLMs?", SINGLE),
])
def test_route(question, route):
    assert route_question(question) == route


def test_route_accuracy_on_the_typed_dev_questions():
    want = {"factoid": SINGLE, "paraphrase": SINGLE, "followup": SINGLE, "multi": MULTI, "summary": SUMMARY}
    rows = [json.loads(line) for line in (REPO / "eval" / "questions.jsonl").read_text().splitlines()]
    typed = [q for q in rows if q["type"] in want]
    right = sum(route_question(q["question"]) == want[q["type"]] for q in typed)
    assert right / len(typed) >= 0.9


def test_first_person_is_the_authors_voice_not_latin_abbreviations():
    assert not is_first_person("Permutations of a set, i.e., elements of a group [1].")
    assert is_first_person("Our method helps [1].") and is_first_person("I think so.")
