"""Property tests (Hypothesis) for the citation-marker functions: no input crashes them, and every marker
left in their output maps to a source (or was removed) while the rest of the text survives."""
from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from rag.text import MARKER, keep_valid_markers, markers_in, split_sentences, strip_markers
from rag.answer.citations import SupportChecker, check_citations
from rag.embed import HashEmbedder
from rag.types import Hit

# Text dense in brackets, digits, separators and sentence ends, mixed with arbitrary unicode.
_PIECES = st.sampled_from(["[", "]", "[1]", "[2, 3]", "[0]", "[9]", "[12;4]", "[ 3 ]", "[1000]", "1", "7", ",",
                           ";", ".", "!", "?", " ", "  ", "\n", "\t", "a", "The", "model", "x.", "(1)", "[[", "]]",
                           "١", "e.g.", '"'])
# Answer-like text: words and markers separated by spaces, as a model writes them.
_ANSWER = st.lists(st.sampled_from(["It", "has", "55", "classes", "[1]", "[9]", "[0]", "[2, 7]", "[1][4]", ".", ",",
                                    "and", "\n"]), max_size=14).map(" ".join)
TEXT = st.one_of(st.lists(_PIECES, max_size=40).map("".join), _ANSWER, st.text(max_size=200))


def without_markers(text: str, by: str = "") -> str:
    while MARKER.search(text):
        text = MARKER.sub(by, text)
    return text


def content(text: str) -> str:
    """What must survive marker handling: everything but markers and whitespace."""
    return re.sub(r"\s", "", without_markers(text))


@given(TEXT)
@settings(max_examples=300)
def test_markers_in_never_crashes_and_returns_distinct_numbers(text):
    found = markers_in(text)
    assert len(found) == len(set(found))
    assert all(0 <= n <= 999 for n in found)
    assert bool(found) == bool(MARKER.search(text))


@given(TEXT, st.integers(min_value=0, max_value=12))
@example("The models are [7] and [4].", 4)        # once left "are  and [4]."
@example("A [[9]1] b.", 0)                         # dropping [9] used to leave a new marker [1]
@settings(max_examples=400)
def test_keep_valid_markers_keeps_only_sources_and_all_other_text(text, n_sources):
    out = keep_valid_markers(text, n_sources)
    assert all(1 <= n <= n_sources for n in markers_in(out)), out
    assert content(out) == content(text)
    assert "  " not in out or "  " in text.replace("\t", " ")     # removing a marker leaves no double space
    assert keep_valid_markers(out, n_sources) == out                # idempotent


@given(TEXT)
@settings(max_examples=300)
def test_split_sentences_keeps_markers_and_words(text):
    sentences = split_sentences(text)
    assert all(s.strip() == s and s for s in sentences)
    joined = "\n".join(sentences)
    assert set(markers_in(joined)) <= set(markers_in(text))
    words = lambda t: sorted(re.findall(r"\w+", without_markers(t, " ")))   # noqa: E731
    assert words(joined) == words(text)


@given(TEXT)
@settings(max_examples=300)
def test_strip_markers_leaves_no_marker(text):
    assert not MARKER.search(strip_markers(text))


@pytest.fixture(scope="module")
def hits():
    from tests.support.data import TINY
    from rag.formats import parse_plain

    return [Hit(paper=p, passages=[p.abstract], score=1.0) for p in list(parse_plain(TINY, "tiny.txt"))[:3]]


@pytest.fixture(scope="module")
def checker():
    return SupportChecker(HashEmbedder())


@given(text=TEXT, question=st.text(max_size=60))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_check_citations_maps_every_marker_to_a_source(hits, checker, text, question):
    checked = check_citations(text, hits, checker, question=question)
    in_text = markers_in(checked.text)
    assert all(1 <= n <= len(hits) for n in in_text), checked.text
    assert [c.marker for c in checked.citations] == in_text          # one entry per marker, in order
    for c in checked.citations:
        assert c.paper_id == hits[c.marker - 1].paper.paper_id and c.title == hits[c.marker - 1].paper.title
