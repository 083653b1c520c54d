"""Chat messages from the question and the retrieved passages. The wording lives in prompts/*.txt."""
from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Sequence

from rag.text import CANNOT_ANSWER, SOURCE_FENCE, looks_like_instruction
from rag.types import Hit, Message

_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_FAKE_MARKER = re.compile(r"\[\s*(?:sources?\s*)?(\d+(?:\s*[,;]\s*\d+)*)\s*\]", re.I)


@cache
def load_template(name: str) -> str:
    """A template from the `prompts` package folder."""
    return (resources.files("prompts") / f"{name}.txt").read_text(encoding="utf-8")


def defang(text: str) -> str:
    """Passages are data: no fake source fence or marker, no sentence that addresses the assistant."""
    kept = [s for s in _SENTENCE.split(SOURCE_FENCE.sub(" ", text)) if not looks_like_instruction(s)]
    return _FAKE_MARKER.sub(r"(\1)", " ".join(" ".join(kept).split()))


def format_sources(hits: Sequence[Hit]) -> str:
    """Numbered passages [1]..[n] in the order given."""
    template = load_template("source")
    return "\n".join(
        template.format(n=i, title=defang(h.paper.title) or "(untitled)",
                        passage=defang(" ".join(h.passages))).strip()
        for i, h in enumerate(hits, 1))


def build_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    """System rules + the fenced, numbered sources and the question."""
    system = load_template("answer_system").format(cannot_answer=CANNOT_ANSWER).strip()
    user = load_template("answer_user").format(sources=format_sources(hits), question=question.strip(),
                                               cannot_answer=CANNOT_ANSWER).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
