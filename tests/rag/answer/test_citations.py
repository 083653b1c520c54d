import pytest

from rag.answer.citations import SupportChecker, check_citations
from rag.text import markers_in
from rag.embed import HashEmbedder
from rag.types import Hit


@pytest.fixture()
def hits(tiny_papers):
    return [Hit(paper=p, passages=[p.abstract], score=1.0 - i / 10) for i, p in enumerate(tiny_papers[:3])]


def test_supported_citation_gets_a_quote_from_the_abstract(hits):
    checked = check_citations("The 3DIEBench dataset has renderings from 55 classes [1].", hits,
                              SupportChecker(HashEmbedder()))
    (c,) = checked.citations
    assert c.marker == 1 and c.supported and "55 classes" in c.quote
    assert c.paper_id == hits[0].paper.paper_id


def test_wrong_number_is_not_supported(hits):
    checker = SupportChecker(HashEmbedder())
    checked = check_citations("The 3DIEBench dataset has renderings from 57 classes [1].", hits, checker,
                              attach=False)
    assert checked.citations[0].supported is False


def test_uncited_sentence_gets_the_one_source_that_backs_it(hits):
    checked = check_citations("Poincaré embeddings embed symbolic data into hyperbolic space.", hits,
                              SupportChecker(HashEmbedder()))
    assert checked.attached == 1
    assert checked.text.endswith("[2].")
    assert [c.marker for c in checked.citations] == [2]


def test_marker_on_the_wrong_source_is_repaired(hits):
    checked = check_citations("Poincaré embeddings embed symbolic data into hyperbolic space [1].", hits,
                              SupportChecker(HashEmbedder()))
    assert checked.repaired == 1 and markers_in(checked.text) == [2] and checked.citations[0].supported


def test_every_marker_in_the_text_has_a_citation_entry(hits):
    checked = check_citations("Sure [3]. The 3DIEBench dataset has 55 classes [1] [5].", hits,
                              SupportChecker(HashEmbedder()))
    assert sorted(c.marker for c in checked.citations) == sorted(markers_in(checked.text))
    assert 5 not in markers_in(checked.text)


def test_a_list_of_source_titles_is_not_an_answer(hits):
    checked = check_citations(f"[1] {hits[0].paper.title} [2] {hits[1].paper.title}", hits,
                              SupportChecker(HashEmbedder()))
    assert all(s.supported is None for s in checked.sentences)
