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


def _defang(text: str) -> str:
    """Passages are data: a fake source fence or marker inside one must not look like ours."""
    text = re.sub(r"</?\s*sources?\s*>", " ", text, flags=re.I)
    return re.sub(r"\[(\d+(?:\s*,\s*\d+)*)\]", r"(\1)", text)


def format_sources(hits: Sequence[Hit]) -> str:
    """Numbered passages [1]..[n] in the order given."""
    template = load_template("source")
    return "\n".join(
        template.format(n=i, title=_defang(h.paper.title), passage=_defang(" ".join(h.passages))).strip()
        for i, h in enumerate(hits, 1))


def build_messages(question: str, hits: Sequence[Hit]) -> list[Message]:
    """System rules + the fenced, numbered sources and the question."""
    system = load_template("answer_system").format(cannot_answer=CANNOT_ANSWER).strip()
    user = load_template("answer_user").format(sources=format_sources(hits), question=question.strip(),
                                               cannot_answer=CANNOT_ANSWER).strip()
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]
