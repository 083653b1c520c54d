"""eval.metrics on tiny hand-computed cases."""
import pytest

from eval.metrics import (SUMMARY_KEYS, abstention_precision, abstention_recall, citation_precision,
                          citation_recall, keyword_hit, norm_title, percentile, recall_at_k, reciprocal_rank,
                          score_row, summarize, supported_rate)

A, B, C, D = "Paper A", "Paper B", "Paper C", "Paper D"


def test_titles_match_ignoring_case_and_whitespace():
    assert norm_title("  The   Geometry\nof Concepts ") == norm_title("the geometry of concepts")
    assert recall_at_k(["paper  a"], [A]) == 1.0


def test_recall_at_k():
    assert recall_at_k([A, B, C], [A, C]) == 1.0
    assert recall_at_k([B, C, D, "E", "F", A], [A, C], k=5) == 0.5     # A is sixth
    assert recall_at_k([B], [A]) == 0.0
    assert recall_at_k([A, A, B], [A, B], k=2) == 1.0                  # duplicates do not use up ranks
    assert recall_at_k([A], []) is None


def test_reciprocal_rank():
    assert reciprocal_rank([A, B], [A]) == 1.0
    assert reciprocal_rank([C, D, B], [B, A]) == pytest.approx(1 / 3)
    assert reciprocal_rank([C], [A]) == 0.0
    assert reciprocal_rank([A], []) is None


def test_citation_precision_and_recall():
    assert citation_precision([A, B], [A]) == 0.5
    assert citation_precision([A, A, C], [A, C]) == 1.0                 # distinct papers
    assert citation_precision(["", A], [A]) == 0.5                      # a marker pointing nowhere is not gold
    assert citation_precision([], [A]) is None
    assert citation_recall([A], [A, B, C, D]) == 0.25
    assert citation_recall([], [A]) == 0.0
    assert citation_recall([A], []) is None


def test_keyword_hit():
    assert keyword_hit("It has 2.5 Million images on 3DIEBench.", ["2.5 million", "3diebench"])
    assert not keyword_hit("It has 2.5 million images.", ["2.5 million", "3DIEBench"])
    assert keyword_hit("Mistral  7B", ["mistral 7b"])
    assert keyword_hit("anything", [])


def test_abstention_precision_and_recall():
    pairs = [(True, True), (True, False), (False, True), (False, False), (True, True)]
    assert abstention_precision(pairs) == pytest.approx(2 / 3)          # 3 refusals, 2 on unanswerable
    assert abstention_recall(pairs) == pytest.approx(2 / 3)             # 3 unanswerable, 2 refused
    assert abstention_precision([(False, True)]) is None
    assert abstention_recall([(True, False)]) is None


def test_supported_rate_and_percentile():
    assert supported_rate([True, False, True, True]) == 0.75
    assert supported_rate([]) is None
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([10], 95) == 10
    assert percentile([0, 10], 95) == pytest.approx(9.5)
    assert percentile([], 50) is None


def _row(qid, type_, gold, keywords, answer, abstained, sources, cited, total=1.0, first=0.5, error=None):
    return {"id": qid, "type": type_, "gold_titles": gold, "answer_keywords": keywords, "answer": answer,
            "abstained": abstained, "sources": [{"rank": i + 1, "title": t} for i, t in enumerate(sources)],
            "citations": [{"marker": i + 1, "title": t, "supported": s} for i, (t, s) in enumerate(cited)],
            "timings": {"total_s": total, "first_token_s": first}, "error": error}


ROWS = [
    # factoid: gold first, cited and supported, keyword present
    _row("q1", "factoid", [A], ["42"], "It is 42 [1].", False, [A, B], [(A, True)], total=2.0, first=1.0),
    # factoid: gold second, cites a wrong paper (unsupported), keyword missing
    _row("q2", "factoid", [B], ["7"], "It is 9 [1].", False, [C, B], [(C, False)], total=4.0, first=2.0),
    # multi: refused although answerable -> keyword 0, citation recall 0, no citation precision
    _row("q3", "multi", [A, D], ["x"], "The papers in this collection do not answer this question.", True,
         [A, C], [], total=1.0, first=1.0),
    # unanswerable, refused
    _row("q4", "unanswerable", [], [], "The papers ... do not answer.", True, [C], [], total=1.0, first=1.0),
    # unanswerable, answered with an invented citation
    _row("q5", "unanswerable", [], [], "It is 91.4% [1].", False, [D], [(D, False)], total=6.0, first=3.0),
]


def test_score_row():
    s = score_row(ROWS[2])
    assert s["keyword_hit"] == 0.0 and s["citation_recall"] == 0.0 and s["citation_precision"] is None
    assert s["refused_answerable"] is True and s["missing_gold"] == [D]
    assert score_row(ROWS[4])["missed_refusal"] is True
    assert score_row(ROWS[4])["recall_at_5"] is None


def test_summarize_overall():
    s = summarize(ROWS)
    assert set(SUMMARY_KEYS) <= set(s)
    assert s["n"] == 5
    assert s["recall_at_5"] == pytest.approx((1 + 1 + 0.5) / 3, abs=1e-4)
    assert s["mrr"] == pytest.approx((1 + 0.5 + 1) / 3, abs=1e-4)
    assert s["citation_precision"] == pytest.approx(0.5)              # q1 1.0, q2 0.0; q3 cited nothing
    assert s["citation_recall"] == pytest.approx((1 + 0 + 0) / 3, abs=1e-4)
    assert s["keyword_accuracy"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["abstention_precision"] == pytest.approx(0.5)            # refused q3 (wrong) and q4 (right)
    assert s["abstention_recall"] == pytest.approx(0.5)               # q4 of q4, q5
    assert s["supported_rate"] == pytest.approx(1 / 3, abs=1e-4)      # 3 citations, 1 supported
    assert s["answerable_refusal_rate"] == pytest.approx(1 / 3, abs=1e-4)
    assert s["latency_p50_s"] == 2.0
    assert s["latency_p95_s"] == pytest.approx(5.6)
    assert s["first_token_p50_s"] == 1.0
    assert s["errors"] == 0
    assert s["cited_sentence_rate"] == 1.0                            # q1, q2, q5: one cited sentence each


def test_cited_sentence_rate_counts_sentences_without_a_marker():
    row = _row("s1", "summary", [A], [], "First claim [1]. An uncited claim. Third [2].", False, [A], [(A, True)])
    assert score_row(row)["n_sentences"] == 3 and score_row(row)["n_cited_sentences"] == 2
    assert summarize([row])["cited_sentence_rate"] == pytest.approx(2 / 3, abs=1e-4)
    assert summarize(ROWS[2:4])["cited_sentence_rate"] is None        # only refusals: no sentences


def test_summarize_by_type():
    by = summarize(ROWS)["by_type"]
    assert list(by) == ["factoid", "multi", "unanswerable"]
    for metrics in by.values():
        assert set(SUMMARY_KEYS) <= set(metrics)
    assert by["factoid"]["n"] == 2 and by["factoid"]["recall_at_5"] == 1.0
    assert by["factoid"]["keyword_accuracy"] == 0.5
    assert by["factoid"]["abstention_precision"] is None and by["factoid"]["abstention_recall"] is None
    assert by["multi"]["abstention_precision"] == 0.0 and by["multi"]["citation_precision"] is None
    assert by["unanswerable"]["recall_at_5"] is None and by["unanswerable"]["keyword_accuracy"] is None
    assert by["unanswerable"]["abstention_recall"] == 0.5 and by["unanswerable"]["abstention_precision"] == 1.0
    assert by["unanswerable"]["supported_rate"] == 0.0


def test_error_rows_count_as_failures_without_latency():
    rows = ROWS[:1] + [_row("q9", "factoid", [A], ["42"], "", False, [], [], total=99.0, error="InputError: x")]
    s = summarize(rows)
    assert s["errors"] == 1 and s["recall_at_5"] == 0.5 and s["keyword_accuracy"] == 0.5
    assert s["latency_p95_s"] == 2.0


def test_summarize_empty():
    s = summarize([])
    assert s["n"] == 0 and s["recall_at_5"] is None and s["by_type"] == {}


def test_first_person_echo_and_route_are_counted():
    from eval.metrics import summarize as summarize_rows

    rows = [{"type": "factoid", "question": "How many classes does 3DIEBench have?", "route": "single",
             "answer": "We find 55 classes [1]. How many classes does 3DIEBench have [1]?", "abstained": False,
             "citations": [], "sources": [], "gold_titles": ["T"], "answer_keywords": ["55"]},
            {"type": "multi", "question": "Which papers do X?", "route": "single", "answer": "MERU embeds images hyperbolically [1].",
             "abstained": False, "citations": [], "sources": [], "gold_titles": ["T"], "answer_keywords": []}]
    s = summarize_rows(rows)
    assert s["first_person_sentences"] == 1 and s["echo_sentences"] == 1 and s["route_accuracy"] == 0.5
