"""Build the chat messages from the question and the retrieved passages."""
from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Sequence

from rag.types import Hit, Message

# The one exact cannot-answer phrase: the code answers with it, detects it in model output (a bigger
# model may say it on its own), and the tests use it. The answer prompt deliberately does not ask the
# bundled 0.5B model for it: measured on the dev set, that instruction made it refuse most answerable
# questions while it still invented answers to unanswerable ones. Refusing is the pipeline's job.
CANNOT_ANSWER = "The papers in this collection do not answer this question."


@cache
def load_template(name: str) -> str:
    """A template from the `prompts` package folder."""
    return (resources.files("prompts") / f"{name}.txt").read_text(encoding="utf-8")


# Text inside a paper that speaks to the assistant instead of reporting research: an attempt to override
# the rules, a chat-role label, an order to reply with given words, or our own cannot-answer phrase. Such a
# sentence is never shown to the model and never counts as evidence (rag.citations). Kept narrow on purpose:
# tests/test_hostile.py checks that no sentence of the bundled abstracts matches.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}?\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|^\W*(?:system|assistant|user|human|question|answer|instructions?)\s*:"
    r"|\b(?:answer|reply|respond|say|print|output|write)\s+(?:only\s+)?(?:with\s+)?(?:the\s+(?:word|phrase|text)\s+)?[\"'‘“]"
    r"|\b(?:answer|reply|respond)\s+only\b"
    r"|\byou\s+(?:must|are\s+now)\b", re.I)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FENCE = re.compile(r"</?\s*sources?\s*>", re.I)
_FAKE_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*\d+)*)\s*\]", re.I)


def looks_like_instruction(sentence: str) -> bool:
    """True for a sentence that addresses the assistant (see _INSTRUCTION) rather than stating a finding."""
    sentence = _FENCE.sub(" ", sentence).strip()
    return bool(_INSTRUCTION.search(sentence)) or CANNOT_ANSWER.lower()[:40] in " ".join(sentence.lower().split())


def _defang(text: str) -> str:
    """Passages are data: no fake source fence or marker, no sentence that addresses the assistant."""
    kept = [s for s in _SENTENCE.split(_FENCE.sub(" ", text)) if not looks_like_instruction(s)]
    return _FAKE_MARKER.sub(r"(\1)", " ".join(" ".join(kept).split()))


def format_sources(hits: Sequence[Hit]) -> str:
    """Numbered passages [1]..[n] in the order given."""
    template = load_template("source")
    return "\n".join(
        template.format(n=i, title=_defang(h.paper.title) or "(untitled)",
                        passage=_defang(" ".join(h.passages))).strip()
        for i, h in enumerate(hits, 1))


def build_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    """System rules + the fenced, numbered sources and the question."""
    system = load_template("answer_system").format(cannot_answer=CANNOT_ANSWER).strip()
    user = load_template("answer_user").format(sources=format_sources(hits), question=question.strip(),
                                               cannot_answer=CANNOT_ANSWER).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
