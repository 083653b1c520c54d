"""Turn a follow-up question into a standalone retrieval query, using the conversation so far.

A rule rather than a model call: the bundled 0.5B model rewrites questions unreliably and slowly.
When the question refers back ("they", "this paper", "the first one") or is too short to stand
alone, the previous user question and answer are appended, so retrieval finds the same paper.
"""
from __future__ import annotations

import re
from typing import Sequence

from rag.text import content_words, strip_markers
from rag.types import Message

REFERS_BACK = re.compile(
    r"\b(they|their|them|theirs|it|its|this|that|these|those|he|she|his|her|the (?:paper|papers|authors?|"
    r"method|model|approach|work|study|dataset|benchmark|framework|first|second|latter|former)|"
    r"first one|second one|former|latter|same|above|mentioned)\b", re.I)
MIN_STANDALONE_WORDS = 4


def last_turn(history: Sequence[Message], role: str) -> str:
    for m in reversed(history):
        if m.get("role") == role and str(m.get("content", "")).strip():
            return str(m["content"]).strip()
    return ""


def needs_history(question: str) -> bool:
    return bool(REFERS_BACK.search(question)) or len(content_words(question)) < MIN_STANDALONE_WORDS


def standalone_query(question: str, history: Sequence[Message] | None) -> str:
    """The retrieval query for `question` given the earlier turns."""
    if not history or not needs_history(question):
        return question
    previous = " ".join(x for x in (last_turn(history, "user"), strip_markers(last_turn(history, "assistant"))) if x)
    return f"{question} {previous}".strip()


def question_in_context(question: str, history: Sequence[Message] | None) -> str:
    """The question as the model sees it: a follow-up carries the earlier question with it."""
    if not history or not needs_history(question):
        return question
    earlier = last_turn(history, "user")
    return f"{question} (Follow-up to the earlier question: \"{earlier}\")" if earlier else question
