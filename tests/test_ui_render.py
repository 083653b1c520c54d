"""The UI's pure render functions: escaping, unsupported marking, abstention, export, history."""
from __future__ import annotations

from datetime import datetime

import pytest

from rag.prompt import CANNOT_ANSWER
from rag.types import Answer, Citation, Hit, Paper
from ui import render

SIE = Paper("sie", "Self-supervised learning of Split Invariant Equivariant representations",
            "We introduce 3DIEBench, a dataset of renderings of 3D models from 55 classes. "
            "We propose SIE, a hypernetwork-based predictor.", authors="Garrido et al.", year=2023,
            url="https://arxiv.org/abs/2302.10283")
EVIL = Paper("evil", '<img src=x onerror="alert(1)"> [click me](http://evil.example) *bold*',
             "Evil abstract with <script>alert(2)</script> inside. It supports nothing.")
POINCARE = Paper("poincare", "Poincaré Embeddings for Learning Hierarchical Representations",
                 "We embed symbolic data into hyperbolic space, an n-dimensional Poincaré ball.")


def hit(paper: Paper, score: float = 0.03) -> Hit:
    return Hit(paper=paper, passages=[paper.abstract], score=score, dense=0.6, bm25=5.0)


def make_answer(**kw) -> Answer:
    base = dict(
        question="How many classes does 3DIEBench have?",
        answer="3DIEBench has 55 classes [1]. Something else [2].",
        abstained=False,
        citations=[Citation(1, "sie", SIE.title, True, "We introduce 3DIEBench, a dataset of renderings of "
                            "3D models from 55 classes.", 0.8),
                   Citation(2, "evil", EVIL.title, False, "It supports nothing.", 0.2)],
        sources=[hit(SIE, 0.0331), hit(EVIL, 0.0164), hit(POINCARE, 0.0159)],
        timings={"first_token_s": 2.25, "total_s": 7.5},
        model={"generator": "qwen-0.5b", "embedder": "all-MiniLM-L6-v2"})
    base.update(kw)
    return Answer(**base)


def abstention() -> Answer:
    return make_answer(question="What is the capital of France?", answer=CANNOT_ANSWER, abstained=True,
                       citations=[], related=[hit(POINCARE), hit(SIE)])


@pytest.mark.parametrize("text", [EVIL.title, "<b>x</b>", "[a](javascript:alert(1))", "$x$ `code` # h"])
def test_escape_md_leaves_no_markup(text):
    out = render.escape_md(text)
    assert "<" not in out and ">" not in out
    assert "](" not in out            # no markdown link survives
    assert "`" not in out.replace("\\`", "")


def test_answer_markdown_shows_markers_and_marks_unsupported():
    md = render.answer_markdown(make_answer())
    assert "**\\[1\\]**" in md                    # supported marker, bold
    assert "**\\[2\\]⚠**" in md                   # unsupported marker carries a warning
    assert "not supported by this paper's text" in md
    assert "Split Invariant Equivariant" in md


def test_answer_markdown_escapes_titles():
    md = render.answer_markdown(make_answer())
    assert "<img" not in md and "<script" not in md
    assert "](http" not in md
    assert "&lt;img" in md


def test_abstention_is_distinct_and_lists_related():
    md = render.answer_markdown(abstention())
    answer_md = render.answer_markdown(make_answer())
    assert md.startswith("⊘") and not answer_md.startswith("⊘")
    assert "No answer found" in md and "No answer found" not in answer_md
    assert "Related papers" in md and "Poincaré Embeddings" in md
    assert "\\[1\\]" not in md


def test_sources_html_highlights_quote_and_shows_score():
    out = render.sources_html(make_answer())
    assert "<mark>We introduce 3DIEBench, a dataset of renderings of 3D models from 55 classes.</mark>" in out
    assert "0.0331" in out                            # retrieval score of [1]
    assert "[1]" in out and "[2]" in out
    assert "rag-unsupported" in out and "not supported" in out
    assert "Poincaré Embeddings" in out               # retrieved but not cited, listed apart


def test_sources_html_escapes_everything_from_papers():
    out = render.sources_html(make_answer())
    assert "<img" not in out and "<script" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in out
    assert out.count("<mark>") == 2                   # one quote per cited paper, nothing injected


def test_highlight_tolerates_whitespace_and_escapes_quote():
    text = "First <b>bold</b> sentence.  Second\nsentence here."
    out = render.highlight(text, "Second sentence here.")
    assert out.endswith("<mark>Second\nsentence here.</mark>")
    assert "&lt;b&gt;bold&lt;/b&gt;" in out
    assert render.highlight("no match", "absent") == "no match"


def test_sources_html_for_abstention_lists_related_papers():
    out = render.sources_html(abstention())
    assert "rag-abstain" in out and "No answer" in out
    assert "Related papers" in out and "Poincaré Embeddings" in out
    assert "Cited papers" not in out and "<mark>" not in out


def test_sources_placeholder_before_any_answer():
    assert render.sources_html(None) == render.SOURCES_PLACEHOLDER


def test_status_line_has_models_and_first_token_time():
    line = render.status_line({"generator": "qwen-0.5b", "embedder": "all-MiniLM-L6-v2"}, make_answer())
    assert "qwen\\-0.5b" in line and "all\\-MiniLM\\-L6\\-v2" in line
    assert "first token 2.2 s" in line or "first token 2.3 s" in line
    assert "first token" not in render.status_line({"generator": "g", "embedder": "e"})


def test_export_markdown_has_turns_and_reference_list():
    turns = [{"question": "How many classes does 3DIEBench have?", "answer": make_answer(), "error": None},
             {"question": "And France?", "answer": abstention(), "error": None},
             {"question": "", "answer": None, "error": "the question is empty"}]
    md = render.export_markdown(turns, now=datetime(2025, 1, 2, 3, 4))
    assert md.startswith("# Research assistant conversation")
    assert "## Q1. How many classes does 3DIEBench have?" in md
    assert "3DIEBench has 55 classes \\[1\\]" in md
    assert CANNOT_ANSWER.replace(".", "") in md
    refs = md.split("## References", 1)[1]
    assert "1. Self\\-supervised learning of Split Invariant Equivariant representations. Garrido et al. 2023" in refs
    assert "<https://arxiv.org/abs/2302.10283>" in refs
    assert "Cited in Q1 \\[1\\]" in refs
    assert "2. &lt;img" in refs                       # the evil title, escaped
    assert "<img" not in md and "](http" not in md
    assert "Poincaré" not in refs                     # only cited papers are references


def test_export_markdown_without_citations():
    md = render.export_markdown([{"question": "q", "answer": abstention(), "error": None}])
    assert "_No papers were cited._" in md


def test_turn_messages_and_pipeline_history_strip_ui_markup():
    turns = [{"question": "How many classes does 3DIEBench have?", "answer": make_answer(), "error": None},
             {"question": "<b>bad</b>", "answer": None, "error": "the question is too long"}]
    msgs = render.turn_messages(turns)
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant"]
    assert "Sources" in msgs[1]["content"]
    assert "&lt;b&gt;" in msgs[2]["content"]
    assert msgs[3]["content"].startswith("⚠") and "The question is too long" in msgs[3]["content"]
    history = render.pipeline_history(turns)
    assert history == [{"role": "user", "content": "How many classes does 3DIEBench have?"},
                       {"role": "assistant", "content": "3DIEBench has 55 classes [1]. Something else [2]."}]


def test_turn_messages_while_streaming():
    turns = [{"question": "q", "answer": None, "error": None}]
    assert render.turn_messages(turns, pending="")[-1]["content"].startswith("*Searching")
    assert render.turn_messages(turns, pending="55 <i>cl")[-1]["content"] == "55 &lt;i&gt;cl ▌"
