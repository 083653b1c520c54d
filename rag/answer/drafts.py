"""What the model wrote, made usable: layout copied from the prompt removed, batch-local markers renumbered,
sentences flagged, and the extractive sentence that replaces an unbacked one."""
from __future__ import annotations

import re
from typing import Sequence

from rag.answer.voice import third_person
from rag.text import MARKER, keep_valid_markers, markers_in, split_sentences


def extractive_sentence(quote: str, marker: int) -> str:
    """A sentence backed by construction: the paper's own words, in the third person ("The authors propose
    ..."), cited."""
    body = third_person(quote.strip()).rstrip(".!?;:").strip()
    return f"{body} [{marker}]."


def batches(items: Sequence, size: int) -> list[list]:
    """Split into near-equal batches of at most `size` (10 papers by 4 -> 4, 3, 3, not 4, 4, 2)."""
    if not items:
        return []
    n = -(-len(items) // size)
    base, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + base + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def tidy(text: str, titles: Sequence[str]) -> str:
    """The model's text without what it copied from the prompt's layout: titles run into sentences
    ("<Title> For this purpose, we ..."), list items and headings, and sentences cut off by the token limit."""
    for title in titles:
        text = re.sub(re.escape(title) + r"\s+(?=[A-Z])", "", text)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    sentences = [s for ln in lines for s in split_sentences(ln)]
    complete = [s for s in sentences if MARKER.sub("", s).rstrip()[-1:] in (".", "!", "?", '"', "'")]
    if not complete and len(lines) == 1:
        return lines[0]          # one unfinished sentence: let the support check judge it
    return " ".join(complete)


def renumber(text: str, offset: int, n_local: int) -> str:
    """Local markers [1]..[n_local] of one batch become global ones [offset+1]..; others are removed."""
    text = keep_valid_markers(text, n_local)
    return MARKER.sub(lambda m: "".join(f"[{offset + n}]" for n in markers_in(m.group(0))), text)


_FLAG = " (unverified)"


def flag(sentence: str) -> str:
    """The sentence marked as not backed by its sources, the mark inside the sentence: "x [2] (unverified)."."""
    body = sentence.rstrip()
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1].rstrip(), body[-1]
    return f"{body}{_FLAG}{tail}"


def unflag(sentence: str) -> str:
    return sentence.replace(_FLAG, "")


def titles_in(text: str, titles: Sequence[str]) -> int:
    return sum(1 for t in titles if t and t in text)


def quoted(quote: str, paragraphs: Sequence[Sequence[str]]) -> bool:
    """The quote (as written, or rewritten into the third person) is already in one of the sentences."""
    body = quote.strip().rstrip(".!?;:").strip()
    forms = {body, third_person(body)}
    return any(form in s for p in paragraphs for s in p for form in forms)
