"""The embedded store's files: which folder a client uses, and giving a dropped collection's space back."""
from __future__ import annotations

import re
from pathlib import Path

SEGMENT_DIR = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def store_dir_of(client) -> Path | None:
    """The folder of an embedded store; None for a Chroma server."""
    settings = client.get_settings()
    return Path(settings.persist_directory) if settings.is_persistent else None


def orphan_segments(store_dir: Path) -> list[Path]:
    """Segment folders of collections that no longer exist. Chroma 1.x's delete_collection leaves them on disk,
    and it has no call that lists the live ones, so its catalogue (chroma.sqlite3) is read, read-only."""
    import contextlib
    import sqlite3

    db = Path(store_dir) / "chroma.sqlite3"
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as con:
        live = {row[0] for row in con.execute("SELECT id FROM segments")}
    return [p for p in Path(store_dir).iterdir() if p.is_dir() and SEGMENT_DIR.fullmatch(p.name) and p.name not in live]


def reclaim_space(store_dir: Path, *, timeout_s: int = 60) -> str | None:
    """Give back a deleted collection's space: remove its segment folders, merge the text index, then compact
    chroma.sqlite3 with Chroma's own `chroma vacuum`. None when done, else why not (the store is fine either way)."""
    import shutil
    import subprocess
    import sys

    for folder in orphan_segments(store_dir):
        shutil.rmtree(folder, ignore_errors=True)
    why = _merge_text_index(Path(store_dir) / "chroma.sqlite3", timeout_s)
    chroma = Path(sys.executable).with_name("chroma")
    command = str(chroma) if chroma.exists() else shutil.which("chroma")
    if why or not command:
        return why or "the `chroma` command (installed with chromadb) was not found"
    try:
        done = subprocess.run([command, "vacuum", "--path", str(store_dir), "--force", "--timeout", str(timeout_s)],
                              capture_output=True, text=True, timeout=timeout_s + 600)
    except subprocess.TimeoutExpired:
        return "`chroma vacuum` did not finish in time"
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"`chroma vacuum` exited with {done.returncode}"])[-1]
    return None


def _merge_text_index(db: Path, timeout_s: int) -> str | None:
    """Chroma keeps a SQLite FTS5 index of the passages, where deleted rows stay behind as delete markers until
    its segments merge: after a reset it held the old collection's text twice over. FTS5's own 'optimize'
    command merges them now (Chroma has no call for it)."""
    import contextlib
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(db, timeout=timeout_s)) as con:
            con.execute("INSERT INTO embedding_fulltext_search(embedding_fulltext_search) VALUES('optimize')")
            con.commit()
    except sqlite3.Error as e:
        return f"the text index could not be merged: {e}"
    return None
