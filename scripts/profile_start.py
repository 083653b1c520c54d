"""Where a warm start's time goes: each step `rag ui`/`rag ask` takes before the first question, run one after
another in this process (rag bench's warm start runs the model loads side by side and reports only the total).

    RAG_HOME=... .venv/bin/python scripts/profile_start.py
"""
from __future__ import annotations

import time


def main() -> None:
    steps: list[tuple[str, float]] = []
    t = time.perf_counter()

    def mark(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps.append((name, now - t))
        t = now

    import torch  # noqa: F401
    mark("import torch")
    import transformers  # noqa: F401
    from transformers import AutoModel, AutoModelForCausalLM  # noqa: F401
    mark("import transformers")
    import chromadb  # noqa: F401
    mark("import chromadb")
    from rag.build import build_generator, build_parts
    from rag.settings import settings_from_env
    settings = settings_from_env()
    build_parts(settings, progress=False)
    mark("embedder, store and BM25 index")
    build_generator(settings)
    mark("generator")
    for name, seconds in steps:
        print(f"{name:32s} {seconds:5.2f} s")
    print(f"{'total':32s} {sum(s for _, s in steps):5.2f} s")


if __name__ == "__main__":
    main()
