"""The UI's pure render functions: escaping, unsupported marking, abstention, export, history."""
from __future__ import annotations

from datetime import datetime

import pytest

from rag.text import CANNOT_ANSWER
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
    assert "first checked sentence 2.2 s" in line or "first checked sentence 2.3 s" in line
    assert "single path" in line
    assert "first checked" not in render.status_line({"generator": "g", "embedder": "e"})


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
                       {"role": "assistant", "content": "3DIEBench has 55 classes [1]. Something else [2].",
                        "papers": [c.paper_id for c in make_answer().citations]}]


def test_turn_messages_while_streaming():
    turns = [{"question": "q", "answer": None, "error": None}]
    assert render.turn_messages(turns, pending="")[-1]["content"].startswith("*Searching")
    assert render.turn_messages(turns, pending="55 <i>cl")[-1]["content"] == "55 &lt;i&gt;cl ▌"


# ---------------------------------------------------------------- summaries

from rag.types import PaperEvidence, Summary  # noqa: E402

HYPER = Paper("hyper", "Hyperbolic Entailment Cones for Learning Hierarchical Embeddings",
              "Learning graph representations via low-dimensional embeddings is crucial. "
              "We present a novel method to embed directed acyclic graphs through hierarchical relations "
              "as partial orders defined using a family of nested geodesically convex cones.",
              year=2018, url="https://arxiv.org/abs/1804.01882")
POINCARE_QUOTE = "We embed symbolic data into hyperbolic space, an n-dimensional Poincaré ball."
EVIL_QUOTE = "Evil abstract with <script>alert(2)</script> inside."
HYPER_FIRST = "Learning graph representations via low-dimensional embeddings is crucial."
HYPER_QUOTE = ("We present a novel method to embed directed acyclic graphs through hierarchical relations as "
               "partial orders defined using a family of nested geodesically convex cones.")
FLAGGED = "Hyperbolic spaces make every <b>graph</b> [3](http://evil.example) easy [2] (unverified)."


def make_summary(**kw) -> Summary:
    """A hand-made Summary: three papers, [2] unsupported and flagged, two papers left out."""
    papers = [PaperEvidence(1, hit(POINCARE, 0.9), [POINCARE_QUOTE], POINCARE_QUOTE),
              PaperEvidence(2, hit(EVIL, 0.6), [EVIL_QUOTE, "It supports nothing."], EVIL_QUOTE),
              PaperEvidence(3, hit(HYPER, 0.5), [HYPER_FIRST, HYPER_QUOTE], HYPER_FIRST)]
    base = dict(
        question="Summarize what the collection says about hyperbolic embeddings",
        answer=("Hyperbolic space suits hierarchies [1][3]. " + FLAGGED + "\n\n"
                f'{HYPER.title} reports: "{HYPER_QUOTE[:-1]}" [3].'),
        abstained=False,
        citations=[Citation(1, "poincare", POINCARE.title, True, POINCARE_QUOTE, 0.7),
                   Citation(3, "hyper", HYPER.title, True, HYPER_FIRST, 0.8),
                   Citation(2, "evil", EVIL.title, False, EVIL_QUOTE, 0.1)],
        sources=[p.hit for p in papers],
        timings={"first_token_s": 3.0, "total_s": 61.0},
        model={"generator": "qwen-0.5b", "embedder": "all-MiniLM-L6-v2"},
        query="hyperbolic embeddings", papers=papers,
        left_out=[Hit(paper=SIE, passages=[SIE.abstract], score=0.21, dense=0.24),
                  Hit(paper=Paper("x", "Near <miss> & co", "A."), passages=["A."], score=0.2, dense=0.3)],
        flagged=[{"sentence": "Hyperbolic spaces make every <b>graph</b> [3](http://evil.example) easy [2].",
                  "reason": "unsupported", "markers": [2]}])
    base.update(kw)
    return Summary(**base)


def summary_abstention() -> Summary:
    return make_summary(question="Summarize what the collection says about cooking pasta", answer=CANNOT_ANSWER,
                        abstained=True, citations=[], sources=[], papers=[], flagged=[], query="cooking pasta",
                        related=[hit(POINCARE), hit(SIE)])


def test_summary_markdown_shows_checked_text_papers_and_marks():
    md = render.summary_markdown(make_summary())
    assert md.startswith("**Summary of 3 papers** on *hyperbolic embeddings*")
    assert "Hyperbolic space suits hierarchies **\\[1\\]\\[3\\]**." in md
    assert "**\\[2\\]⚠**" in md                                   # unsupported citation marker
    flagged_line = next(s for s in md.split("⚠ ") if "every" in s)
    assert "**(unverified)**" in flagged_line                    # the flagged sentence is visibly marked
    assert "⚠ Hyperbolic spaces make every" in md
    assert "**Papers**" in md and "- **\\[3\\]** Hyperbolic Entailment Cones" in md
    assert "not supported by this paper's text" in md             # paper [2] in the list
    assert "1 sentence marked" in md and "2 more papers fell just below the relevance cut-off" in md
    assert render.answer_markdown(make_summary()) == md           # the chat dispatches on Summary


def test_summary_markdown_escapes_model_and_paper_text():
    md = render.summary_markdown(make_summary())
    assert "<b>" not in md and "<img" not in md and "<script" not in md
    assert "](http" not in md
    assert "&lt;b&gt;graph&lt;/b&gt;" in md and "&lt;img" in md


def test_summary_abstention_looks_like_the_ask_abstention():
    md = render.summary_markdown(summary_abstention())
    assert md == render.answer_markdown(abstention())             # same text, same related papers
    assert md.startswith("⊘ **No answer found in the collection.**")
    assert "Related papers" in md and "Poincaré Embeddings" in md and "Summary of" not in md
    out = render.sources_html(summary_abstention())
    assert "rag-abstain" in out and "Topic: Summarize what the collection says about cooking pasta" in out
    assert "rag-table" not in out


def test_summary_sources_html_has_table_highlighted_quotes_and_left_out():
    out = render.sources_html(make_summary())
    assert out == render.summary_sources_html(make_summary())
    assert out.count('<tr class="rag-row') == 3
    assert f"<mark>{POINCARE_QUOTE}</mark>" in out                 # the supporting quote, highlighted
    assert f"<mark>{HYPER_FIRST}</mark> {HYPER_QUOTE}</td>" in out   # the cited sentence marked among the evidence
    assert f'<div class="rag-contrib">{HYPER_QUOTE}</div>' in out     # contribution: the "We present" sentence
    assert 'rag-row rag-unsupported" data-marker="2"' in out and "not supported" in out
    assert "Unverified sentences (1)" in out and "rag-flagged" in out
    assert "Left out, just below the cut-off (2)" in out
    assert SIE.title in out and "score 0.210" in out
    assert "https://arxiv.org/abs/1804.01882" in out


def test_summary_sources_html_escapes_everything():
    out = render.summary_sources_html(make_summary())
    assert "<img" not in out and "<script" not in out and "<b>" not in out and "<miss>" not in out
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in out
    assert "<mark>Evil abstract with &lt;script&gt;alert(2)&lt;/script&gt; inside.</mark>" in out
    assert "Near &lt;miss&gt; &amp; co" in out
    assert "&lt;b&gt;graph&lt;/b&gt;" in out                      # the flagged sentence, escaped


def test_summary_progress_shows_the_step_never_the_unchecked_draft():
    assert render.summary_progress_markdown("reading 7 of 12 papers", 7, 12) == "⏳ *Reading 7 of 12 papers…*"
    assert render.summary_progress_markdown("writing the overview", 2, 3) == "⏳ *Writing the overview…* (2 of 3)"
    md = render.summary_progress_markdown("writing about <b>papers</b> 1\u20135 of 12", 0, 3)
    assert "Draft" not in md and "<b>" not in md
    turns = [{"question": "hyperbolic embeddings", "answer": None, "error": None}]
    msgs = render.turn_messages(turns, pending="ignored", pending_markdown=md)
    assert msgs[-1] == {"role": "assistant", "content": md}


def test_export_markdown_includes_summary_with_its_reference_list():
    turns = [{"question": "How many classes does 3DIEBench have?", "answer": make_answer(), "error": None},
             {"question": "Summarize what the collection says about hyperbolic embeddings",
              "answer": make_summary(), "error": None},
             {"question": "Summarize cooking pasta", "answer": summary_abstention(), "error": None}]
    md = render.export_markdown(turns, now=datetime(2025, 1, 2, 3, 4))
    q2 = md.split("## Q2.", 1)[1].split("## Q3.", 1)[0]
    assert '_Summary of 3 papers on "hyperbolic embeddings"_' in q2
    assert "Hyperbolic space suits hierarchies \\[1\\]\\[3\\]." in q2
    assert "⚠ Hyperbolic spaces make every" in q2 and "\\(unverified\\)" in q2
    assert "**References for Q2**" in q2
    assert ("- \\[3\\] Hyperbolic Entailment Cones for Learning Hierarchical Embeddings. 2018. "
            "<https://arxiv.org/abs/1804.01882>.") in q2
    assert "  Contribution: We present a novel method" in q2
    assert f"  > {render.escape_md(HYPER_FIRST)}" in q2             # the supporting quote, when it differs
    assert f"  > {render.escape_md(POINCARE_QUOTE)}" not in q2       # ... and not repeated when it does not
    assert "Left out, just below the relevance cut-off" in q2 and SIE.title.replace("-", "\\-") in q2
    refs = md.split("## References", 1)[1]
    assert "Cited in Q1 \\[2\\], Q2 \\[2\\]" in refs             # the evil paper, cited by both turns
    assert "Hyperbolic Entailment Cones" in refs and "Cited in Q2 \\[3\\]" in refs
    assert CANNOT_ANSWER.replace(".", "") in md.split("## Q3.", 1)[1]
    assert "<img" not in md and "<script" not in md and "<b>" not in md and "](http" not in md


def test_pipeline_history_keeps_a_summary_short():
    turns = [{"question": "Summarize hyperbolic embeddings", "answer": make_summary(), "error": None}]
    history = render.pipeline_history(turns)
    assert history[0] == {"role": "user", "content": "hyperbolic embeddings"}
    assert history[1]["role"] == "assistant" and "\n\n" not in history[1]["content"]
    assert history[1]["content"].startswith("Hyperbolic space suits hierarchies [1][3].")
