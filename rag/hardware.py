"""What this machine's CPU offers: cores, and whether bfloat16 is fast on it."""
from __future__ import annotations

import os
from pathlib import Path

from rag.errors import ModelError


def cpu_count() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:   # not on Linux
        return os.cpu_count() or 1


PRECISIONS = ("auto", "bfloat16", "float32", "int8")


def cpu_has_bf16() -> bool:
    """True when the CPU does bfloat16 matmuls natively (AVX512-BF16 or AMX); elsewhere bf16 is slow."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    if precision not in PRECISIONS:
        raise ModelError(f"unknown precision {precision!r}; use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bfloat16" if cpu_has_bf16() else "float32"
    return precision
