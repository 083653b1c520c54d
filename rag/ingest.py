"""Papers -> chunks (llama-index sentence splitter, sized to the embedder) -> embeddings -> store."""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from rag.batches import BatchRunner, in_shard
from rag.corpus import check_sources, content_hash, read_corpus
from rag.embed import Embedder
from rag.errors import StoreError
from rag.filters import RecordFilter
from rag.live_index import IndexFolder, stderr_line
from rag.records import Skip
from rag.store import ChromaStore, staging_name
from rag.store_files import reclaim_space, store_dir_of
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
    records: int = 0            # records read (papers and skipped ones)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    chunks: int = 0
    errors: int = 0             # unusable records (no abstract, bad JSON, ...)
    duplicates: int = 0
    filtered: int = 0           # left out by the ingest filters (--category, --since, --until)
    other_shards: int = 0       # papers that --shard I/N leaves to the other machines
    examples: list[Skip] = field(default_factory=list)   # the first unusable records, for the summary

    @property
    def papers_in(self) -> int:
        return self.added + self.updated + self.unchanged

    def skip(self, record: Skip, keep_examples: int = 5) -> None:
        if record.kind == "duplicate":
            self.duplicates += 1
        elif record.kind == "filtered":
            self.filtered += 1
        else:
            self.errors += 1
            if len(self.examples) < keep_examples:
                self.examples.append(record)

    def line(self) -> str:
        skipped = [f"{n} {what}" for n, what in ((self.errors, "unusable"), (self.duplicates, "duplicates"),
                                                  (self.filtered, "filtered out")) if n]
        return (f"{self.records} records read: {self.added} added, {self.updated} updated, "
                f"{self.unchanged} unchanged ({self.chunks} chunks written)"
                + (f"; skipped {', '.join(skipped)}" if skipped else "")
                + (f"; {self.other_shards} left to the other shards" if self.other_shards else ""))


class _WriteFailed(Exception):
    """The store refused a batch (a full disk surfaces as a database I/O error from Chroma)."""


def write_batch(batch: Sequence[Paper], store: ChromaStore, embedder: Embedder, known: dict) -> tuple[int, int, int]:
    """Chunk, embed and write whole papers in one store write; (added, updated, chunks)."""
    chunks = chunk_papers(batch, embedder)
    vectors = embedder.embed([c.embed_text for c in chunks])
    replace = [p.paper_id for p in batch if p.paper_id in known]
    try:
        store.write_papers(chunks, vectors, {p.paper_id: content_hash(p) for p in batch}, replace=replace)
    except Exception as e:
        raise _WriteFailed(_reason(e)) from e
    return len(batch) - len(replace), len(replace), len(chunks)


def ingest(records: Iterable[Paper | Skip], store: ChromaStore, embedder: Embedder, *, batch_size: int = 64,
           workers: int = 1, shard: tuple[int, int] | None = None, index: IndexFolder | None = None,
           progress: bool = True, total: int | None = None, on_batch: Callable[[int, int], None] | None = None,
           on_skip: Callable[[Skip], None] | None = None) -> IngestReport:
    """Add new or changed papers from a stream of records, `workers` batches at a time; skipped records are counted.

    A batch's chunks land in one write and the store only counts a paper whose chunks are all there, so a
    kill (even SIGKILL) loses at most the batches in flight, and running again skips every finished paper.
    Memory holds `workers` + 1 batches and the store's paper hashes, whatever the size of the input. With an
    `index` folder, its stamp is bumped after every batch and the BM25 index is rebuilt once at the end.
    """
    known = store.paper_hashes()
    report = IngestReport()
    bar = _progress_bar(total) if progress else None
    counted = 0                 # records whose batch has landed, or that needed no write

    def advance(n: int) -> None:
        nonlocal counted
        counted += n
        if bar:
            bar.update(n)
        if on_batch:
            on_batch(counted, total or 0)

    def done(result: tuple, records_in_batch: int) -> None:
        added, updated, chunks = result
        report.added += added
        report.updated += updated
        report.chunks += chunks
        if index is not None:
            index.bump()        # a running chat takes a fresh view of the store before its next question
        if bar:
            bar.set_postfix(added=report.added, skipped=report.errors + report.duplicates + report.filtered,
                            refresh=False)
        advance(records_in_batch)

    batches = BatchRunner(workers, done)
    try:
        _feed(records, report, known, shard, batch_size, on_skip, advance,
              lambda papers, n: batches.submit(lambda: write_batch(papers, store, embedder, known), n))
        batches.drain()
    except _WriteFailed as e:
        raise StoreError(f"could not write to the store after {report.added + report.updated} new papers "
                         f"({e}); the papers written before are kept: free disk space if it is full and run "
                         "the same command again") from e.__cause__
    finally:
        batches.close()
        if bar:
            bar.close()
    if index is not None:
        index.refresh(store, say=stderr_line if progress else None)
    return report


def _feed(records, report: IngestReport, known: dict, shard, batch_size: int, on_skip, advance,
          submit: Callable[[list[Paper], int], None]) -> None:
    """Sort each record (skipped, another shard's, unchanged, or to write) and hand full batches to `submit`."""
    batch: list[Paper] = []
    pending = 0                 # records read since the last hand-over (counted when their batch lands)
    for record in records:
        report.records += 1
        pending += 1
        if isinstance(record, Skip):
            report.skip(record)
            if on_skip:
                on_skip(record)
        elif not in_shard(record.paper_id, shard):
            report.other_shards += 1
        elif known.get(record.paper_id) == content_hash(record):
            report.unchanged += 1
        else:
            batch.append(record)
        if len(batch) >= batch_size:
            submit(batch, pending)
            batch, pending = [], 0
        elif not batch and pending >= 256:
            advance(pending)    # nothing waiting to be written: show the unchanged and skipped records go by
            pending = 0
    if batch:
        submit(batch, pending)
    elif pending:
        advance(pending)


def _progress_bar(total: int | None):
    from tqdm import tqdm

    return tqdm(total=total, unit="paper", desc="ingest", file=sys.stderr, dynamic_ncols=True, smoothing=0.05)


def ingest_sources(paths: Sequence[Path | str] | None, store: ChromaStore, embedder: Embedder, *,
                   keep: RecordFilter | None = None, **kw) -> IngestReport:
    """Check every file (file-level errors stop here, before any write), then stream its records into the store."""
    total = check_sources(paths)
    return ingest(read_corpus(paths, keep), store, embedder, total=total, **kw)


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


def rebuild(records: Iterable[Paper | Skip], client, name: str, embedder: Embedder, *,
            index: IndexFolder | None = None, **kw) -> IngestReport:
    """Build a fresh collection beside the old one, which stays in use until the new one is complete.

    The swap renames the old collection aside, the new one in, then drops the old one and gives its disk
    space back; a kill between the two renames is undone by `recover_swap` the next time the store opens.
    """
    staging, previous = staging_name(name), previous_name(name)
    recover_swap(client, name)
    _drop(client, staging)                  # a leftover from an interrupted rebuild
    fresh = ChromaStore(client, staging, embedder_name=embedder.name)
    try:
        report = ingest(records, fresh, embedder, **kw)
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
    _after_swap(client, fresh, index, say=stderr_line if kw.get("progress", True) else None)
    return report


def _after_swap(client, store: ChromaStore, index: IndexFolder | None, say=None) -> None:
    """Remove the dropped collection's files, then tell readers and build the new collection's BM25 index."""
    folder = store_dir_of(client)
    if folder is not None:
        why = reclaim_space(folder)
        if why and say:
            say(f"the space the old collection held in chroma.sqlite3 was not given back ({why}); "
                f"it is when nothing else has the store open: chroma vacuum --path {folder} --force")
    if index is not None:
        index.bump()
        index.build(store, say=say)


def recover_swap(client, name: str) -> None:
    """If a rebuild was killed between its two renames, put the old collection back in place."""
    names = _names(client)
    if name not in names and previous_name(name) in names:
        client.get_collection(previous_name(name), embedding_function=None).modify(name=name)
