"""The collection's papers: the bundled abstracts, the files a user names (by rag.formats), filters and duplicates.

`check_sources` reads every file once, without keeping anything, so a file-level problem stops an ingest
before anything is written; `read_corpus` then streams every record, in order, as a Paper or a Skip.
"""
from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from rag.errors import CorpusError
from rag.filters import RecordFilter
from rag.formats import PARSERS, SUFFIXES, _lines, file_format
from rag.records import Record, Skip, make_paper_id, normalize_title
from rag.types import Paper


def bundled_corpus() -> Path:
    """The 213 ML abstracts shipped with the package."""
    return Path(str(resources.files("rag") / "data" / "trending-papers.txt"))


def content_hash(paper: Paper) -> str:
    """Changes when the text that gets embedded changes."""
    return hashlib.sha1(f"{paper.title}\n{paper.abstract}".encode()).hexdigest()[:12]


def _read_file(path: Path) -> Iterator[tuple[str, Record]]:
    yield from PARSERS[file_format(path)](_lines(path), str(path))


def corpus_files(paths: Iterable[Path | str] | None = None) -> list[Path]:
    """The files to read: the given files, every corpus file under the given folders, else the bundled abstracts."""
    out: list[Path] = []
    for path in [Path(p) for p in (paths or [bundled_corpus()])]:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
            if not found:
                raise CorpusError(f"{path}: folder holds no {', '.join(SUFFIXES)} files")
            out += found
        elif not path.exists():
            raise CorpusError(f"{path}: no such file or folder")
        else:
            file_format(path)
            out.append(path)
    unique = {p.resolve(): p for p in reversed(out)}    # a file named twice (or inside a named folder) is read once
    return [p for p in out if unique[p.resolve()] is p]


def check_sources(paths: Iterable[Path | str] | None = None) -> int:
    """Read every file once, keeping nothing: the number of records, or CorpusError for a file-level problem."""
    return sum(1 for file in corpus_files(paths) for _ in _read_file(file))


def read_corpus(paths: Iterable[Path | str] | None = None, keep: RecordFilter | None = None) -> Iterator[Record]:
    """Every record of the files, in order, one item per record: the Paper, or a Skip for an unusable record,
    one the filter leaves out, or a duplicate of an earlier record, which wins (see `duplicate_key`)."""
    seen: dict[str, str] = {}      # duplicate key -> where it was first read
    for file in corpus_files(paths):
        for where, record in _read_file(file):
            if isinstance(record, Skip):
                yield record
                continue
            why = keep.reason(record) if keep else None
            if why:
                yield Skip(where, why, "filtered")
                continue
            key = duplicate_key(record)
            if key in seen:
                what = "title" if key.startswith("title:") else "id"
                yield Skip(where, f"same {what} as {seen[key]}", "duplicate")
                continue
            seen[key] = where
            yield record


def duplicate_key(paper: Paper) -> str:
    """A record with its own id is one paper per id: "Erratum", "Reply" and the many real papers that share a
    title stay apart. Only records without an id merge by normalised title (their id is made from it)."""
    own_id = paper.paper_id != make_paper_id(paper.title)
    return f"id:{paper.paper_id}" if own_id else f"title:{normalize_title(paper.title) or paper.paper_id}"


def load_corpus(paths: Iterable[Path | str] | None = None, keep: RecordFilter | None = None) -> list[Paper]:
    """The usable papers of the files (default: the bundled abstracts); skipped records are left out
    (read_corpus tells why)."""
    return [r for r in read_corpus(paths, keep) if isinstance(r, Paper)]
