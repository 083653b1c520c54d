"""The generator seam: the Protocol every backend implements, and a fake one that is a real, tested part.

Backends (rag.generators.transformers, .llamacpp, .openai) import their heavy libraries inside, so importing
this package is fast; `rag.build.GENERATORS` names them all, the fake included.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol

from rag.types import Message


class Generator(Protocol):
    name: str

    def stream(self, messages: list[Message], *, max_new_tokens: int) -> Iterator[str]:
        """Yield the reply to a chat in text pieces; "".join(pieces) is the whole reply."""
        ...


class FakeGenerator:
    """Replies from a queue (or a function of the messages), recording every chat it is asked.

    A word counts as a token: a reply is cut to max_new_tokens words, like a real model.
    """

    name = "fake"

    def __init__(self, replies: Sequence[str] | Callable[[list[Message]], str] = (),
                 *, default: str = "This is a fake reply.") -> None:
        self._reply_fn = replies if callable(replies) else None
        self._queue = [] if callable(replies) else list(replies)
        self.default = default
        self.calls: list[list[Message]] = []   # one copied message list per stream() call

    def stream(self, messages: list[Message], *, max_new_tokens: int) -> Iterator[str]:
        self.calls.append(copy.deepcopy(list(messages)))
        if self._reply_fn is not None:
            reply = self._reply_fn(messages)
        else:
            reply = self._queue.pop(0) if self._queue else self.default
        # Pieces are words with their trailing whitespace, so the pieces join back exactly.
        words = [w for w in re.split(r"(?<=\s)(?=\S)", reply) if w]
        return iter(words[:max_new_tokens])


_FIRST_SOURCE = re.compile(r"^\[1\] [^\n]*\n([^\n]+)", re.M)     # "[1] Title" then its passage line


def copy_first_source(messages: list[Message]) -> str:
    """The `fake` backend's reply: the first sentence of source [1], cited. A model-free stand-in for demos
    and for tests of everything around the model."""
    m = _FIRST_SOURCE.search(messages[-1]["content"] if messages else "")
    if not m:
        return "This is a fake reply."
    return re.split(r"(?<=[.!?])\s+", m.group(1).strip())[0].rstrip(".!? ") + " [1]."
