"""FakeGenerator: queued or computed replies, recorded chats, word-sized tokens; the `fake` backend's reply."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rag.generators.base import FakeGenerator, copy_first_source

CHAT = [{"role": "system", "content": "Cite as [n]."}, {"role": "user", "content": "What is X?"}]


def test_fake_returns_queued_replies_in_order_then_default():
    gen = FakeGenerator(["First reply [1].", "Second one."], default="nothing left")
    assert "".join(gen.stream(CHAT, max_new_tokens=50)) == "First reply [1]."
    assert "".join(gen.stream(CHAT, max_new_tokens=50)) == "Second one."
    assert "".join(gen.stream(CHAT, max_new_tokens=50)) == "nothing left"


def test_fake_records_a_copy_of_every_chat():
    gen = FakeGenerator(["a", "b"])
    chat = [dict(m) for m in CHAT]
    list(gen.stream(chat, max_new_tokens=5))
    chat[1]["content"] = "changed later"
    list(gen.stream(CHAT[:1], max_new_tokens=5))
    assert gen.calls == [CHAT, CHAT[:1]]


def test_fake_streams_word_by_word_and_joins_exactly():
    reply = "Line one [1].\n\n  Two  spaces and a tab\there."
    pieces = list(FakeGenerator([reply]).stream(CHAT, max_new_tokens=100))
    assert len(pieces) == len(reply.split())
    assert "".join(pieces) == reply


def test_fake_cuts_reply_to_max_new_tokens_words():
    pieces = list(FakeGenerator(["one two three four"]).stream(CHAT, max_new_tokens=2))
    assert "".join(pieces) == "one two "


def test_fake_reply_can_be_a_function_of_the_messages():
    gen = FakeGenerator(lambda messages: f"You asked: {messages[-1]['content']}")
    assert "".join(gen.stream(CHAT, max_new_tokens=10)) == "You asked: What is X?"
    assert len(gen.calls) == 1


@pytest.mark.slow
def test_importing_the_generators_does_not_load_torch():
    code = ("import sys, rag.generators.transformers, rag.generators.llamacpp, rag.generators.openai, rag.build; "
            "sys.exit('torch' in sys.modules)")
    import subprocess
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[3])
    assert result.returncode == 0


def test_the_fake_backend_copies_the_first_sentence_of_source_one():
    chat = [{"role": "user", "content": "<sources>\n[1] A title\nFirst fact here. Second fact.\n</sources>\nQ?"}]
    assert copy_first_source(chat) == "First fact here [1]."
    assert copy_first_source(CHAT) == "This is a fake reply."
