"""Papers -> chunks (llama-index sentence splitter, sized to the embedder) -> embeddings -> store."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from rag.corpus import content_hash
from rag.embed import Embedder
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
    for batch in _batches(todo, batch_size):
        chunks = chunk_papers(batch, embedder)
        vectors = embedder.embed([c.embed_text for c in chunks])
        replace = [p.paper_id for p in batch if p.paper_id in known]
        store.write_papers(chunks, vectors, {p.paper_id: content_hash(p) for p in batch}, replace=replace)
        report.updated += len(replace)
        report.added += len(batch) - len(replace)
        report.chunks += len(chunks)
        done += len(batch)
        if bar:
            bar.update(len(batch))
        if on_batch:
            on_batch(done, len(todo))
    if bar:
        bar.close()
    return report


def rebuild(papers: Sequence[Paper], client, name: str, embedder: Embedder, **kw) -> IngestReport:
    """Build a fresh collection beside the old one and swap it in only when complete."""
    staging = staging_name(name)
    try:
        client.delete_collection(staging)       # a leftover from an interrupted rebuild
    except Exception:
        pass
    fresh = ChromaStore(client, staging, embedder_name=embedder.name)
    report = ingest(papers, fresh, embedder, **kw)
    try:
        client.delete_collection(name)
    except Exception:
        pass
    fresh.rename(name)
    return report
