"""Validation of the evaluation dev set (eval/questions.jsonl) against the corpus."""

import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
QUESTIONS = ROOT / "eval" / "questions.jsonl"
CORPUS = ROOT / "rag" / "data" / "trending-papers.txt"

TYPES = {"factoid", "paraphrase", "multi", "summary", "unanswerable", "followup"}
KEYS = {"id", "type", "question", "gold_titles", "answer_keywords"}


def load_corpus():
    """Return {title: abstract}: skip two boilerplate lines, alternate title/abstract."""
    lines = CORPUS.read_text(encoding="utf-8").splitlines()[2:]
    papers = {}
    for i in range(0, len(lines) - 1, 2):
        title, abstract = lines[i].strip(), lines[i + 1].strip()
        if i == 0 and title.startswith("Subscribe"):
            title = title[len("Subscribe"):]
        papers[title] = abstract
    return papers


def load_questions():
    out = []
    for n, line in enumerate(QUESTIONS.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError as e:  # pragma: no cover - reported as failure
            pytest.fail(f"line {n} does not parse: {e}")
    return out


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def questions():
    return load_questions()


def test_corpus_parses(corpus):
    assert len(corpus) == 213
    assert "Identification of Systematic Errors of Image Classifiers on Rare Subgroups" in corpus


def test_every_line_parses_and_has_keys(questions):
    for q in questions:
        assert isinstance(q, dict)
        expected = KEYS | ({"history"} if q.get("type") == "followup" else set())
        assert set(q) == expected, f"{q.get('id')}: keys {sorted(q)}"
        assert isinstance(q["question"], str) and q["question"].strip()
        assert isinstance(q["gold_titles"], list)
        assert isinstance(q["answer_keywords"], list)
        assert all(isinstance(k, str) and k.strip() for k in q["answer_keywords"])


def test_size_and_ids(questions):
    assert len(questions) >= 60
    ids = [q["id"] for q in questions]
    assert len(ids) == len(set(ids)), "duplicate ids"


def test_types(questions):
    types = [q["type"] for q in questions]
    assert set(types) <= TYPES, set(types) - TYPES
    assert set(types) == TYPES, f"missing types: {TYPES - set(types)}"


def test_history_only_on_followup(questions):
    for q in questions:
        if q["type"] == "followup":
            hist = q.get("history")
            assert isinstance(hist, list) and hist, q["id"]
            for turn in hist:
                assert set(turn) == {"role", "content"}, q["id"]
                assert turn["role"] in {"user", "assistant"}, q["id"]
                assert isinstance(turn["content"], str) and turn["content"].strip(), q["id"]
        else:
            assert "history" not in q, q["id"]


def test_gold_titles_exist(questions, corpus):
    for q in questions:
        for t in q["gold_titles"]:
            assert t in corpus, f"{q['id']}: unknown title {t!r}"
        assert len(q["gold_titles"]) == len(set(q["gold_titles"])), q["id"]


def test_keywords_in_gold_abstracts(questions, corpus):
    for q in questions:
        abstracts = [corpus[t].lower() for t in q["gold_titles"] if t in corpus]
        for k in q["answer_keywords"]:
            assert any(k.lower() in a for a in abstracts), f"{q['id']}: keyword {k!r} not in gold abstracts"


def test_unanswerable_and_answerable(questions):
    for q in questions:
        if q["type"] == "unanswerable":
            assert q["gold_titles"] == [] and q["answer_keywords"] == [], q["id"]
        else:
            assert q["gold_titles"], q["id"]
