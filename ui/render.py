"""Pure rendering: Answer (or Summary) -> chat markdown, sources-panel HTML, export markdown, status line.

Nothing here touches a model or Gradio. Every string that comes from a paper, the user or the model
(titles, quotes, abstracts, answer text) is HTML-escaped and markdown-escaped before it is shown, so a
title like `<img onerror=...>` or `[click](http://evil)` renders as plain text.

A conversation is a list of turns: {"question": str, "answer": Answer | None, "error": str | None}.
The answer of a Summarize turn is a rag.types.Summary (an Answer subclass); every function below
dispatches on it, so a conversation can mix questions and summaries.
"""
from __future__ import annotations

import html
import re
from datetime import datetime
from typing import Sequence, TypedDict

from rag.text import split_sentences, trim_words
from rag.types import Answer, Citation, Hit, Message, PaperEvidence, Summary


class Turn(TypedDict):
    question: str
    answer: Answer | None     # None when the question failed (see `error`)
    error: str | None


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-!|~>$])")
_ESCAPED_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")
_ESCAPED_MARKER_RUN = re.compile(r"(?:\\\[\d{1,3}\\\])+")
_ABSTAIN_ICON = "⊘"
_WARN = "⚠"
_UNVERIFIED = "(unverified)"      # what rag.answer.drafts writes into a flagged sentence


# What a GFM renderer turns into a link by itself ("https://x", "www.x", "a@b.c"): the character that
# triggers it becomes an HTML entity, which shows the same but is no longer the plain text the autolinker
# looks for (otherwise the chat links the URL, backslash escapes and all).
_AUTOLINK_TRIGGER = re.compile(r"(?<=[A-Za-z]):(?=//)|(?<=www)\.|@", re.I)
_ENTITY = {":": "&#58;", ".": "&#46;", "@": "&#64;"}


def escape_md(text: str) -> str:
    """Plain text safe inside markdown that allows HTML: no tags, links (written or automatic), emphasis
    or math."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(str(text), quote=True)).replace("&\\#", "&#")  # entities stay whole
    return _AUTOLINK_TRIGGER.sub(lambda m: _ENTITY[m.group(0)], escaped)


def escape_html(text: str) -> str:
    return html.escape(str(text), quote=True)


def _by_marker(answer: Answer) -> dict[int, Citation]:
    return {c.marker: c for c in answer.citations}


def _hit_for(answer: Answer, citation: Citation) -> Hit | None:
    """The retrieved paper a citation points at (marker n is the n-th source)."""
    n = citation.marker
    if 1 <= n <= len(answer.sources) and answer.sources[n - 1].paper.paper_id == citation.paper_id:
        return answer.sources[n - 1]
    return next((h for h in answer.sources if h.paper.paper_id == citation.paper_id), None)


# ---------------------------------------------------------------- chat

def streaming_markdown(partial: str) -> str:
    """The answer while it is being generated, with a cursor."""
    return (escape_md(partial) if partial.strip() else "*Searching the papers…*") + " ▌"


def error_markdown(message: str) -> str:
    """A RagError (or an unexpected failure) as a friendly chat message."""
    message = str(message).strip()
    return f"{_WARN} **Sorry, I could not answer that.** {escape_md(message[:1].upper() + message[1:])}"


def _mark_markers(escaped: str, cites: dict[int, Citation]) -> str:
    """Markers in already-escaped text bold (a run like [1][3] as one bold span, since "****" would not
    render); a marker whose citation is unsupported gets a warning sign."""
    def one(m: re.Match) -> str:
        n = int(m.group(1))
        c = cites.get(n)
        return f"\\[{n}\\]" if c is None or c.supported else f"\\[{n}\\]{_WARN}"
    return _ESCAPED_MARKER_RUN.sub(lambda run: "**" + _ESCAPED_MARKER.sub(one, run.group(0)) + "**", escaped)


def _marked_answer_text(answer: Answer) -> str:
    """Answer text with each marker bold; a marker whose citation is unsupported gets a warning sign."""
    return _mark_markers(escape_md(answer.answer), _by_marker(answer))


def answer_markdown(answer: Answer) -> str:
    """The final chat message: the cited answer with its source list, or a distinct abstention."""
    if isinstance(answer, Summary) and not answer.abstained:
        return summary_markdown(answer)
    if answer.abstained:
        lines = [f"{_ABSTAIN_ICON} **No answer found in the collection.**", "",
                 f"> {escape_md(answer.answer)}"]
        related = answer.related or answer.sources[:3]
        if related:
            lines += ["", "Related papers I found (they do not answer the question):"]
            lines += [f"- *{escape_md(h.paper.title)}*" for h in related]
        return "\n".join(lines)
    lines = [_marked_answer_text(answer)]
    if answer.citations:
        lines += ["", "**Sources**"]
        for c in answer.citations:
            note = "" if c.supported else f" — {_WARN} *not supported by this paper's text*"
            lines.append(f"- **\\[{c.marker}\\]** {escape_md(c.title)}{note}")
    return "\n".join(lines)


def _is_flagged(sentence: str) -> bool:
    return _UNVERIFIED in sentence


def _summary_sentence(sentence: str, cites: dict[int, Citation]) -> str:
    """One summary sentence as markdown; a flagged one starts with a warning sign and ends bold "(unverified)"."""
    if not _is_flagged(sentence):
        return _mark_markers(escape_md(sentence), cites)
    body = _mark_markers(escape_md(sentence), cites).replace(escape_md(f" {_UNVERIFIED}"), f" **{_UNVERIFIED}**")
    return f"{_WARN} {body}"


def summary_paragraphs_markdown(summary: Summary) -> list[str]:
    """The checked summary text, paragraph by paragraph, markers bold and flagged sentences marked."""
    cites = _by_marker(summary)
    return [" ".join(_summary_sentence(s, cites) for s in split_sentences(p))
            for p in summary.answer.split("\n\n") if p.strip()]


def summary_markdown(summary: Summary) -> str:
    """The final chat message of a summary: heading, checked paragraphs, the numbered papers, and notes on
    unverified sentences and near misses. An abstention renders exactly like an Ask abstention."""
    if summary.abstained:
        return answer_markdown(summary)
    n = len(summary.papers)
    heading = (f"**{n} paper{'s' * (n != 1)}** answer this" if summary.route == "multi" else
               f"**Summary of {n} paper{'s' * (n != 1)}** on *{escape_md(summary.query or summary.question)}*")
    lines = [heading, ""]
    for paragraph in summary_paragraphs_markdown(summary):
        lines += [paragraph, ""]
    cites = _by_marker(summary)
    lines.append("**Papers**")
    for p in summary.papers:
        c = cites.get(p.marker)
        note = "" if c is None or c.supported else f" — {_WARN} *not supported by this paper's text*"
        lines.append(f"- **\\[{p.marker}\\]** {escape_md(p.hit.paper.title)}{note}")
    notes = []
    if summary.flagged:
        k = len(summary.flagged)
        notes.append(f"{_WARN} {k} sentence{'s' * (k != 1)} marked **{_UNVERIFIED}**: no paper's text backs "
                     f"{'them' if k != 1 else 'it'}.")
    if summary.left_out:
        k = len(summary.left_out)
        notes.append(f"{k} more paper{'s' * (k != 1)} fell just below the relevance cut-off (listed under "
                     f"Sources).")
    if notes:
        lines += [""] + [" ".join(notes)]
    return "\n".join(lines)


def summary_progress_markdown(message: str, done: int = 0, total: int = 0) -> str:
    """A summary being built: the current step ("Reading 7 of 12 papers…"). The model's draft is not shown:
    only checked text is, so nothing the user reads is taken back."""
    message = str(message or "finding the relevant papers").strip()
    step = f"⏳ *{escape_md(message[:1].upper() + message[1:])}…*"
    if total and "of" not in message.split():
        step += f" ({done} of {total})"
    return step


def turn_messages(turns: Sequence[Turn], pending: str | None = None, *,
                  pending_markdown: str | None = None) -> list[Message]:
    """Chatbot messages (messages format) for the conversation; `pending` is the answer being streamed,
    or `pending_markdown` an already-rendered in-progress message (a summary's progress)."""
    out: list[Message] = []
    for i, t in enumerate(turns):
        out.append({"role": "user", "content": escape_md(t["question"]) if t["question"].strip()
                    else "*(empty question)*"})
        if t.get("error"):
            out.append({"role": "assistant", "content": error_markdown(t["error"])})
        elif t.get("answer") is not None:
            out.append({"role": "assistant", "content": answer_markdown(t["answer"])})
        elif pending_markdown is not None and i == len(turns) - 1:
            out.append({"role": "assistant", "content": pending_markdown})
        elif pending is not None and i == len(turns) - 1:
            out.append({"role": "assistant", "content": streaming_markdown(pending)})
    return out


def pipeline_history(turns: Sequence[Turn]) -> list[Message]:
    """Prior turns as the pipeline expects them: the plain answer text, none of the UI's markup."""
    out: list[Message] = []
    for t in turns:
        a = t.get("answer")
        if a is None:      # a failed question has no answer to follow up on
            continue
        if isinstance(a, Summary):   # the topic and the overview paragraph, not the whole (long) summary
            out += [{"role": "user", "content": a.query or a.question or t["question"]},
                    {"role": "assistant", "content": a.answer.split("\n\n", 1)[0].strip()}]
            continue
        out += [{"role": "user", "content": a.question or t["question"]},
                {"role": "assistant", "content": a.answer, "papers": [c.paper_id for c in a.citations]}]
    return out


# ---------------------------------------------------------------- sources panel

SOURCES_PLACEHOLDER = ('<div class="rag-sources rag-empty">Ask a question or summarise a topic: the papers '
                       'cited appear here, with the sentence that supports each citation highlighted.</div>')


def highlight(text: str, quote: str) -> str:
    """`text` escaped, with the first occurrence of `quote` wrapped in <mark> (whitespace-insensitive)."""
    quote = quote.strip()
    if quote:
        words = [re.escape(w) for w in quote.split()]
        m = re.search(r"\s+".join(words), text)
        if m:
            return (escape_html(text[:m.start()]) + "<mark>" + escape_html(m.group(0)) + "</mark>"
                    + escape_html(text[m.end():]))
    return escape_html(text)


def _passage_with_quote(hit: Hit, quote: str) -> tuple[str, bool]:
    """The passage (or whole abstract) that contains the quote, highlighted; and whether it was found."""
    candidates = [*hit.passages, hit.paper.abstract]
    for text in candidates:
        marked = highlight(text, quote)
        if "<mark>" in marked:
            return marked, True
    return escape_html(hit.passages[0] if hit.passages else hit.paper.abstract), False


def _meta(hit: Hit | None) -> str:
    if hit is None:
        return ""
    bits = [escape_html(hit.paper.authors)] if hit.paper.authors else []
    if hit.paper.year:
        bits.append(str(hit.paper.year))
    bits.append(f"retrieval score {hit.score:.4f}")
    return " · ".join(bits)


def _citation_card(answer: Answer, c: Citation) -> str:
    hit = _hit_for(answer, c)
    cls = "rag-card" if c.supported else "rag-card rag-unsupported"
    badge = ('<span class="rag-badge rag-ok">✓ supported</span>' if c.supported else
             f'<span class="rag-badge rag-bad">{_WARN} not supported by this paper\'s text</span>')
    parts = [f'<div class="{cls}" data-marker="{c.marker}">',
             f'<div class="rag-card-top"><span class="rag-num">[{c.marker}]</span> '
             f'<span class="rag-title">{escape_html(c.title)}</span></div>',
             f'<div class="rag-meta">{_meta(hit)} · support {c.score:.2f} {badge}</div>']
    if hit is not None:
        passage, found = _passage_with_quote(hit, c.quote)
        parts.append(f'<p class="rag-passage">{passage}</p>')
        if c.quote and not found:
            parts.append(f'<p class="rag-quote">Closest sentence: <mark>{escape_html(c.quote)}</mark></p>')
    elif c.quote:
        parts.append(f'<p class="rag-passage"><mark>{escape_html(c.quote)}</mark></p>')
    if hit is not None and hit.paper.url:
        parts.append(f'<div class="rag-link">{escape_html(hit.paper.url)}</div>')
    parts.append("</div>")
    return "".join(parts)


def _hit_card(hit: Hit, rank: int) -> str:
    passage = hit.passages[0] if hit.passages else hit.paper.abstract
    return (f'<div class="rag-card rag-related"><div class="rag-card-top"><span class="rag-num">#{rank}</span> '
            f'<span class="rag-title">{escape_html(hit.paper.title)}</span></div>'
            f'<div class="rag-meta">{_meta(hit)}</div>'
            f'<p class="rag-passage">{escape_html(passage)}</p></div>')


def sources_html(answer: Answer | None) -> str:
    """The panel beside the chat: numbered cited papers with the supporting quote marked, or the
    related papers an abstention found."""
    if answer is None:
        return SOURCES_PLACEHOLDER
    if isinstance(answer, Summary) and not answer.abstained:
        return summary_sources_html(answer)
    label = "Topic" if isinstance(answer, Summary) else "Question"
    head = f'<div class="rag-head">{label}: {escape_html(answer.question)}</div>'
    if answer.abstained:
        related = answer.related or answer.sources[:3]
        body = [f'<div class="rag-abstain">{_ABSTAIN_ICON} No answer: {escape_html(answer.answer)}</div>']
        if related:
            body.append('<div class="rag-sub">Related papers found (they do not answer the question)</div>')
            rank = {h.paper.paper_id: i for i, h in enumerate(answer.sources, 1)}
            body += [_hit_card(h, rank.get(h.paper.paper_id, i)) for i, h in enumerate(related, 1)]
        return f'<div class="rag-sources rag-abstained">{head}{"".join(body)}</div>'
    cards = [_citation_card(answer, c) for c in answer.citations]
    if not cards:
        cards = ['<div class="rag-sub">The answer cites no paper.</div>']
    cited = {c.paper_id for c in answer.citations}
    others = [(i, h) for i, h in enumerate(answer.sources, 1) if h.paper.paper_id not in cited]
    more = ""
    if others:
        items = "".join(f"<li>[{i}] {escape_html(h.paper.title)} "
                        f'<span class="rag-meta">score {h.score:.4f}</span></li>' for i, h in others)
        more = f"<details><summary>Also retrieved, not cited ({len(others)})</summary><ul>{items}</ul></details>"
    return f'<div class="rag-sources">{head}<div class="rag-sub">Cited papers</div>{"".join(cards)}{more}</div>'


def _paper_quote_html(p: PaperEvidence, citation: Citation | None) -> str:
    """The paper's evidence sentences, the one that backs the summary (else the closest to the topic) marked."""
    text = " ".join(p.quotes) or p.best
    for quote in (citation.quote if citation else "", p.best):
        marked = highlight(text, quote or "")
        if "<mark>" in marked:
            return marked
    return escape_html(text)


def _paper_row(p: PaperEvidence, citation: Citation | None, contribution_words: int) -> str:
    unsupported = citation is not None and not citation.supported
    if citation is None:
        badge = ""
    elif citation.supported:
        badge = ' <span class="rag-badge rag-ok">✓ supported</span>'
    else:
        badge = f' <span class="rag-badge rag-bad">{_WARN} not supported by this paper\'s text</span>'
    meta = _meta(p.hit)
    link = f'<div class="rag-link">{escape_html(p.hit.paper.url)}</div>' if p.hit.paper.url else ""
    return (f'<tr class="rag-row{" rag-unsupported" if unsupported else ""}" data-marker="{p.marker}">'
            f'<td class="rag-num">[{p.marker}]</td>'
            f'<td><div class="rag-title">{escape_html(p.hit.paper.title)}</div>'
            f'<div class="rag-meta">{meta}{badge}</div>'
            f'<div class="rag-contrib">{escape_html(trim_words(p.contribution, contribution_words))}</div>{link}</td>'
            f'<td class="rag-quote">{_paper_quote_html(p, citation)}</td></tr>')


_FLAG_REASONS = {"unsupported": "the cited paper's text does not back it", "uncited": "it cites no paper"}


def summary_sources_html(summary: Summary) -> str:
    """The panel beside a summary: one table row per summarised paper (title, one-line contribution, the
    supporting quote highlighted), the unverified sentences, and the papers left out just below the cut-off."""
    if summary.abstained:
        return sources_html(summary)
    cites = _by_marker(summary)
    n = len(summary.papers)
    parts = [f'<div class="rag-sources rag-summary"><div class="rag-head">Topic: {escape_html(summary.question)}</div>',
             f'<div class="rag-sub">{n} paper{"s" * (n != 1)} summarised</div>',
             '<table class="rag-table"><thead><tr><th>#</th><th>Paper · contribution</th><th>Supporting quote</th>'
             '</tr></thead><tbody>']
    parts += [_paper_row(p, cites.get(p.marker), summary.contribution_words) for p in summary.papers]
    parts.append("</tbody></table>")
    if summary.flagged:
        items = "".join(f'<li class="rag-flagged">{_WARN} {escape_html(f.get("sentence", ""))} <span class="rag-meta">'
                        f'({escape_html(_FLAG_REASONS.get(f.get("reason", ""), f.get("reason", "unverified")))})'
                        f'</span></li>' for f in summary.flagged)
        parts.append(f'<div class="rag-sub">Unverified sentences ({len(summary.flagged)})</div>'
                     f'<ul class="rag-flagged-list">{items}</ul>')
    if summary.left_out:
        items = "".join(f'<li>{escape_html(h.paper.title)} <span class="rag-meta">score {h.score:.3f} · '
                        f'{f"cosine {h.dense:.2f}" if h.dense else "keyword match"}</span></li>' for h in summary.left_out)
        parts.append(f'<div class="rag-sub">Left out, just below the cut-off ({len(summary.left_out)})</div>'
                     f'<ul class="rag-leftout">{items}</ul>')
    parts.append("</div>")
    return "".join(parts)


# ---------------------------------------------------------------- status and export

def status_line(model: dict[str, str], answer: Answer | None = None) -> str:
    """Model names and the last answer's time to first token (markdown)."""
    gen = escape_md(model.get("generator", "?"))
    emb = escape_md(model.get("embedder", "?"))
    line = f"**Models:** generator {gen} · embedder {emb}"
    if answer is not None:
        t = answer.timings
        line += (f" · **Last answer** ({escape_md(answer.route)} path): first checked sentence "
                 f"{t.get('first_sentence_s', t.get('first_token_s', 0)):.1f} s, total {t.get('total_s', 0):.1f} s")
    return line


def _reference(hit: Hit) -> str:
    """Title. Authors. Year. <url> — one entry of a reference list."""
    bits = [escape_md(hit.paper.title)]
    if hit.paper.authors:
        bits.append(escape_md(hit.paper.authors))
    if hit.paper.year:
        bits.append(str(hit.paper.year))
    if hit.paper.url:
        bits.append(f"<{hit.paper.url}>" if re.fullmatch(r"https?://[^\s<>]+", hit.paper.url)
                    else escape_md(hit.paper.url))
    return ". ".join(b.rstrip(".") for b in bits) + "."


def _export_summary(s: Summary, q: int, refs: dict[str, dict]) -> list[str]:
    """A summary in the export: its checked paragraphs, then its own numbered reference list (contribution
    and quote per paper), the papers left out; its papers also join the conversation's References."""
    n = len(s.papers)
    lines = [f"_Summary of {n} paper{'s' * (n != 1)} on \"{escape_md(s.query or s.question)}\"_", ""]
    for paragraph in s.answer.split("\n\n"):
        if paragraph.strip():
            sentences = [(f"{_WARN} " if _is_flagged(x) else "") + escape_md(x) for x in split_sentences(paragraph)]
            lines += [" ".join(sentences), ""]
    cites = _by_marker(s)
    lines += [f"**References for Q{q}**", ""]
    for p in s.papers:
        c = cites.get(p.marker)
        note = "" if c is None or c.supported else f" ({_WARN} not supported by the paper's text)"
        lines.append(f"- \\[{p.marker}\\] {_reference(p.hit)}{note}")
        lines.append(f"  Contribution: {escape_md(trim_words(p.contribution, s.contribution_words))}")
        quote = c.quote if c is not None and c.quote else p.best
        if quote and quote != p.contribution:
            lines.append(f"  > {escape_md(quote)}")
        ref = refs.setdefault(p.hit.paper.paper_id, {"title": p.hit.paper.title, "hit": p.hit, "cited_in": []})
        if ref["hit"] is None:
            ref["hit"] = p.hit
        ref["cited_in"].append(f"Q{q} \\[{p.marker}\\]")
    if s.flagged:
        lines += ["", f"{_WARN} {len(s.flagged)} sentence(s) marked {escape_md(_UNVERIFIED)}: no paper's text backs them."]
    if s.left_out:
        lines += ["", "Left out, just below the relevance cut-off:", ""]
        lines += [f"- {escape_md(h.paper.title)}" for h in s.left_out]
    lines.append("")
    return lines


def export_markdown(turns: Sequence[Turn], *, now: datetime | None = None) -> str:
    """The conversation as Markdown, each answer with its citations, then one reference list."""
    now = now or datetime.now()
    lines = ["# Research assistant conversation", "", f"_Exported {now:%Y-%m-%d %H:%M}_", ""]
    refs: dict[str, dict] = {}          # paper_id -> {"title", "hit", "cited_in": [...]}
    for q, t in enumerate(turns, 1):
        lines += [f"## Q{q}. {escape_md(t['question'])}", ""]
        a = t.get("answer")
        if a is None:
            lines += [f"> Error: {escape_md(t.get('error') or 'no answer')}", ""]
            continue
        if isinstance(a, Summary) and not a.abstained:
            lines += _export_summary(a, q, refs)
            continue
        if a.abstained:
            lines += [f"> {escape_md(a.answer)}", ""]
            related = a.related or a.sources[:3]
            if related:
                lines += ["Related papers found (they do not answer the question):", ""]
                lines += [f"- {escape_md(h.paper.title)}" for h in related]
                lines.append("")
            continue
        lines += [escape_md(a.answer), ""]
        for c in a.citations:
            note = "" if c.supported else f" ({_WARN} not supported by the paper's text)"
            lines.append(f"- \\[{c.marker}\\] {escape_md(c.title)}{note}")
            if c.quote:
                lines.append(f"  > {escape_md(c.quote)}")
            ref = refs.setdefault(c.paper_id, {"title": c.title, "hit": _hit_for(a, c), "cited_in": []})
            ref["cited_in"].append(f"Q{q} \\[{c.marker}\\]")
        lines.append("")
    lines += ["## References", ""]
    if not refs:
        lines.append("_No papers were cited._")
    for i, (paper_id, ref) in enumerate(refs.items(), 1):
        hit: Hit | None = ref["hit"]
        bits = [escape_md(ref["title"])]
        if hit is not None and hit.paper.authors:
            bits.append(escape_md(hit.paper.authors))
        if hit is not None and hit.paper.year:
            bits.append(str(hit.paper.year))
        if hit is not None and hit.paper.url:
            bits.append(f"<{hit.paper.url}>" if re.fullmatch(r"https?://[^\s<>]+", hit.paper.url)
                        else escape_md(hit.paper.url))
        lines.append(f"{i}. " + ". ".join(b.rstrip(".") for b in bits) + f". Cited in {', '.join(ref['cited_in'])}. (id: {escape_md(paper_id)})")
    return "\n".join(lines).rstrip() + "\n"
