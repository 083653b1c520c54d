"""Papers -> chunks (llama-index sentence splitter, sized to the embedder) -> embeddings -> store."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from rag.corpus import content_hash
from rag.embed import Embedder
from rag.errors import StoreError
from rag.store import ChromaStore, staging_name
from rag.types import Chunk, Paper

OVERLAP_TOKENS = 32


def chunk_papers(papers: Sequence[Paper], embedder: Embedder) -> list[Chunk]:
    """Split each abstract into passages that, with the title in front, fit the embedder's window."""
    from llama_index.core.node_parser import SentenceSplitter

    out: list[Chunk] = []
    splitters: dict[int, SentenceSplitter] = {}   # one per window size: building one per paper is slow
    for paper in papers:
        room = max(64, embedder.max_tokens - len(embedder.tokenize(paper.title)) - 8)
        splitter = splitters.get(room)
        if splitter is None:
            splitter = splitters[room] = SentenceSplitter(
                chunk_size=room, chunk_overlap=min(OVERLAP_TOKENS, room // 4), tokenizer=embedder.tokenize)
        digest = content_hash(paper)
        for i, text in enumerate(splitter.split_text(paper.abstract)):
            out.append(Chunk(chunk_id=f"{paper.paper_id}:{digest}:{i}", paper=paper, text=text,
                             embed_text=f"{paper.title}. {text}"))
    return out


@dataclass
class IngestReport:
    papers_in: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0

    def line(self) -> str:
        return (f"{self.papers_in} papers read: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged ({self.chunks} chunks written)")


def _batches(items: Sequence, size: int) -> Iterable[Sequence]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def ingest(papers: Sequence[Paper], store: ChromaStore, embedder: Embedder, *, batch_size: int = 64,
           progress: bool = True, on_batch: Callable[[int, int], None] | None = None) -> IngestReport:
    """Add new or changed papers; a paper's chunks land together, so a kill loses at most one batch."""
    known = store.paper_hashes()
    report = IngestReport(papers_in=len(papers))
    todo = []
    for p in papers:
        if known.get(p.paper_id) == content_hash(p):
            report.unchanged += 1
        else:
            todo.append(p)
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="paper", desc="ingest", file=sys.stderr, dynamic_ncols=True)
    done = 0
    try:
        for batch in _batches(todo, batch_size):
            chunks = chunk_papers(batch, embedder)
            vectors = embedder.embed([c.embed_text for c in chunks])
            replace = [p.paper_id for p in batch if p.paper_id in known]
            try:
                store.write_papers(chunks, vectors, {p.paper_id: content_hash(p) for p in batch},
                                   replace=replace)
            except Exception as e:   # a full disk surfaces as a database I/O error from Chroma
                raise StoreError(f"could not write to the store after {done} of {len(todo)} papers "
                                 f"({_reason(e)}); the papers written before are kept: free disk space if it is "
                                 "full and run the same command again") from e
            report.updated += len(replace)
            report.added += len(batch) - len(replace)
            report.chunks += len(chunks)
            done += len(batch)
            if bar:
                bar.update(len(batch))
            if on_batch:
                on_batch(done, len(todo))
    finally:       # the bar ends its line before any error message
        if bar:
            bar.close()
    return report


def _reason(e: BaseException) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}" if first else type(e).__name__


def previous_name(name: str) -> str:
    return f"{name}__previous"


def _drop(client, name: str) -> None:
    try:
        client.delete_collection(name)
    except Exception:
        pass    # not there


def _names(client) -> set[str]:
    return {getattr(c, "name", c) for c in client.list_collections()}


def rebuild(papers: Sequence[Paper], client, name: str, embedder: Embedder, **kw) -> IngestReport:
    """Build a fresh collection beside the old one, which stays in use until the new one is complete.

    The swap renames the old collection aside, the new one in, then drops the old one; a kill between
    the two renames is undone by `recover_swap` the next time the store opens.
    """
    staging, previous = staging_name(name), previous_name(name)
    recover_swap(client, name)
    _drop(client, staging)                  # a leftover from an interrupted rebuild
    fresh = ChromaStore(client, staging, embedder_name=embedder.name)
    try:
        report = ingest(papers, fresh, embedder, **kw)
    except StoreError as e:
        _drop(client, staging)              # give the space back
        raise StoreError(f"could not build the new store ({_reason(e.__cause__ or e)}); the store in use is "
                         "unchanged: free disk space if it is full and run `rag ingest --reset` again") from e
    had_old = name in _names(client)
    if had_old:
        _drop(client, previous)
        client.get_collection(name, embedding_function=None).modify(name=previous)
    try:
        fresh.rename(name)
    except Exception:
        if had_old:
            client.get_collection(previous, embedding_function=None).modify(name=name)
        raise
    if had_old:
        _drop(client, previous)
    return report


def recover_swap(client, name: str) -> None:
    """If a rebuild was killed between its two renames, put the old collection back in place."""
    names = _names(client)
    if name not in names and previous_name(name) in names:
        client.get_collection(previous_name(name), embedding_function=None).modify(name=name)
