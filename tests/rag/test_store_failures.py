"""A full disk, a kill, an old or damaged store: the store in use stays usable and the message names the fix.

The first tests run in-process with the hashing embedder; the ones marked `model` run the real `rag`
command in a child process: under a file-size limit (a full disk, as SQLite sees it) and killed with
SIGKILL in the middle of a rebuild.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import subprocess
import time
from pathlib import Path

import pytest

from rag.build import reset_store
from rag.embed import HashEmbedder
from rag.errors import StoreError
from rag.ingest import ingest, previous_name, rebuild, recover_swap
from rag.settings import Settings
from rag.store import ChromaStore, open_client, staging_name
from tests.support.data import REPO


class _DiskFillsUp:
    """Patches ChromaStore.write_papers to fail like a full disk after `after` successful writes."""

    def __init__(self, monkeypatch, after: int):
        self.calls, self.after = 0, after
        real = ChromaStore.write_papers

        def write_papers(store, *a, **kw):
            self.calls += 1
            if self.calls > self.after:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return real(store, *a, **kw)
        monkeypatch.setattr(ChromaStore, "write_papers", write_papers)


def test_full_disk_during_ingest_keeps_whole_papers_and_says_what_to_do(tmp_path, tiny_papers, monkeypatch):
    store = ChromaStore(open_client(tmp_path), "papers", embedder_name="hash-embedder")
    _DiskFillsUp(monkeypatch, after=1)
    with pytest.raises(StoreError) as e:
        ingest(tiny_papers, store, HashEmbedder(), batch_size=2, progress=False)
    message = str(e.value)
    assert "\n" not in message and "after 2 new papers" in message and "No space left on device" in message
    assert "run the same command again" in message
    assert len(store.paper_hashes()) == 2
    monkeypatch.undo()
    report = ingest(tiny_papers, store, HashEmbedder(), batch_size=2, progress=False)
    assert report.unchanged == 2 and len(store.paper_hashes()) == len(tiny_papers)


def test_full_disk_during_rebuild_leaves_the_store_in_use_unchanged(tmp_path, tiny_papers, monkeypatch):
    client = open_client(tmp_path)
    ingest(tiny_papers[:2], ChromaStore(client, "papers", embedder_name="hash-embedder"), HashEmbedder(),
           progress=False)
    before = ChromaStore(client, "papers").paper_hashes()
    _DiskFillsUp(monkeypatch, after=1)
    with pytest.raises(StoreError, match="the store in use is unchanged.*rag ingest --reset"):
        rebuild(tiny_papers, client, "papers", HashEmbedder(), batch_size=2, progress=False)
    assert ChromaStore(client, "papers").paper_hashes() == before
    assert {c.name for c in client.list_collections()} == {"papers"}      # the half-built one is gone


def test_a_kill_between_the_swap_renames_is_undone_on_the_next_open(tmp_path, tiny_papers):
    client = open_client(tmp_path)
    ingest(tiny_papers[:2], ChromaStore(client, "papers", embedder_name="hash-embedder"), HashEmbedder(),
           progress=False)
    before = ChromaStore(client, "papers").paper_hashes()
    ingest(tiny_papers, ChromaStore(client, staging_name("papers"), embedder_name="hash-embedder"),
           HashEmbedder(), progress=False)
    client.get_collection("papers", embedding_function=None).modify(name=previous_name("papers"))   # killed here
    recover_swap(client, "papers")
    assert ChromaStore(client, "papers").paper_hashes() == before
    rebuild(tiny_papers, client, "papers", HashEmbedder(), progress=False)
    assert len(ChromaStore(client, "papers").paper_hashes()) == len(tiny_papers)
    assert {c.name for c in client.list_collections()} == {"papers"}


def test_reset_rebuilds_a_store_from_another_version(tmp_path, tiny_papers):
    settings = Settings(home=tmp_path)
    open_client(settings.store_dir).get_or_create_collection("papers", metadata={"schema": 0},
                                                             embedding_function=None)
    with pytest.raises(StoreError, match="another version.*rag ingest --reset"):
        ChromaStore(open_client(settings.store_dir), "papers")
    reset_store(settings, tiny_papers, HashEmbedder(), progress=False)
    assert len(ChromaStore(open_client(settings.store_dir), "papers").paper_hashes()) == len(tiny_papers)


def test_reset_moves_a_damaged_store_aside_and_builds_a_new_one(tmp_path, tiny_papers, capsys):
    settings = Settings(home=tmp_path)
    settings.store_dir.mkdir()
    (settings.store_dir / "chroma.sqlite3").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="rag ingest --reset"):
        ChromaStore(open_client(settings.store_dir), "papers")
    reset_store(settings, tiny_papers, HashEmbedder(), progress=False)
    assert len(ChromaStore(open_client(settings.store_dir), "papers").paper_hashes()) == len(tiny_papers)
    (aside,) = tmp_path.glob("chroma.damaged-*")
    assert (aside / "chroma.sqlite3").read_bytes().startswith(b"this is not a database")
    assert f"moved to {aside}" in capsys.readouterr().err


# --- the real command, in a child process --------------------------------------------------------

def _corpus(path, n: int, tag: str):
    rows = [{"id": f"{tag}{i}", "title": f"{tag.upper()} study {i} of topic {i % 7}",
             "abstract": f"We study topic {i % 7} with method {tag}{i}. " * 6 + f"It reaches {i} percent."}
            for i in range(n)]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture()
def cli_env(tmp_path):
    from tests.support.data import shared_models_dir

    env = {**os.environ, "RAG_HOME": str(tmp_path / "home"), "RAG_MODELS_DIR": str(shared_models_dir()),
           "PYTHONUNBUFFERED": "1"}
    return env


def rag(env, *args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(REPO / ".venv" / "bin" / "rag"), *args], env=env, capture_output=True, text=True,
                          timeout=600, **kw)


def store_state(env) -> tuple[dict, set]:
    from chromadb.api.shared_system_client import SharedSystemClient

    SharedSystemClient.clear_system_cache()          # another process changed the files
    client = open_client(Settings(home=Path(env["RAG_HOME"])).store_dir)
    return ChromaStore(client, "papers").paper_hashes(), {c.name for c in client.list_collections()}


@pytest.mark.model
def test_cli_full_disk_and_kill_during_a_rebuild_keep_the_store_usable(tmp_path, cli_env):
    old = _corpus(tmp_path / "old.jsonl", 12, "old")
    new = _corpus(tmp_path / "new.jsonl", 400, "new")
    first = rag(cli_env, "ingest", "--source", str(old))
    assert first.returncode == 0, first.stderr
    before, _ = store_state(cli_env)
    assert len(before) == 12
    sqlite = tmp_path / "home" / "chroma" / "chroma.sqlite3"

    def full_disk():      # files may not grow past 64 KB more than the store already is: a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        limit = sqlite.stat().st_size + 64 * 1024
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    full = rag(cli_env, "ingest", "--reset", "--source", str(new), preexec_fn=full_disk)
    errors = [line for line in full.stderr.splitlines() if line.startswith("rag: error:")]
    assert full.returncode == 1 and len(errors) == 1, full.stderr[-2000:]
    assert "the store in use is unchanged" in errors[0] and "Traceback" not in full.stderr
    print(errors[0])
    assert store_state(cli_env)[0] == before

    proc = subprocess.Popen([str(REPO / ".venv" / "bin" / "rag"), "ingest", "--reset", "--source", str(new)],
                            env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seen = ""
    deadline = time.monotonic() + 300
    while "64/400" not in seen and "128/400" not in seen:        # a batch or two of the new store is written
        assert proc.poll() is None and time.monotonic() < deadline, seen[-2000:]
        seen += proc.stderr.read(64)
    proc.kill()
    proc.wait()
    assert store_state(cli_env)[0] == before

    answer = rag(cli_env, "ask", "What does method old3 reach on topic 3?", "--json")
    assert answer.returncode == 0, answer.stderr[-2000:]
    data = json.loads(answer.stdout)
    assert data["sources"] and all(s["paper_id"].startswith("old") for s in data["sources"])

    again = rag(cli_env, "ingest", "--reset", "--source", str(old))
    assert again.returncode == 0, again.stderr[-2000:]
    hashes, names = store_state(cli_env)
    assert hashes == before and names == {"papers"}                   # the killed run's leftovers are gone
