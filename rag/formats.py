"""Each corpus file format parsed into records: plain text (the bundled format), JSONL (including the arXiv
metadata snapshot), JSON, CSV and BibTeX.

Every parser yields, per record, a `Paper` or a `Skip` (file:line and the reason it cannot be used), so one bad
record never stops an ingest. A problem with a whole file (missing, binary, not UTF-8, empty, a CSV without
title and abstract columns, a JSON array that does not parse) raises CorpusError.

Plain text, JSONL and CSV are streamed a line at a time. BibTeX and JSON arrays are read whole, because
their parsers need the whole text; such files are small in practice.
"""
from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path
from typing import Iterable, Iterator

from rag.errors import CorpusError
from rag.records import Record, Skip, clean_text, record_to_paper

BOILERPLATE = re.compile(r"^Get trending papers in your email inbox", re.I)
SUBSCRIBE = "Subscribe"
FORMATS = {".txt": "plain", ".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".bib": "bibtex"}
SUFFIXES = tuple(FORMATS)


# -- reading files ---------------------------------------------------------------------------------------------
def _lines(path: Path) -> Iterator[str]:
    """The lines of a UTF-8 text file, one at a time (line endings kept); file-level problems raise CorpusError."""
    try:
        f = path.open("rb")
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder; pass files or use a folder of {', '.join(SUFFIXES)} files") from None
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror or type(e).__name__})") from None
    with f:
        head = f.read(4096)
        if head.startswith((b"\xff\xfe", b"\xfe\xff")):
            raise CorpusError(f"{path}: UTF-16 text; re-save the file as UTF-8")
        if b"\x00" in head:
            raise CorpusError(f"{path}: looks like a binary file, not text")
        if not head.removeprefix(b"\xef\xbb\xbf").strip() and len(head) < 4096:
            raise CorpusError(f"{path}: file is empty")     # said before any parser complains of what is missing
        f.seek(0)
        empty = True
        for n, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CorpusError(f"{path}:{n}: not UTF-8 text; re-save the file as UTF-8") from None
            if n == 1 and line.startswith("\ufeff"):
                line = line[1:]
            if "\x00" in line:
                raise CorpusError(f"{path}:{n}: contains a NUL byte; is it a binary file?")
            empty = empty and not line.strip()
            yield line
        if empty:
            raise CorpusError(f"{path}: file is empty")


def _as_lines(text_or_lines: str | Iterable[str]) -> Iterable[str]:
    return text_or_lines.splitlines(keepends=True) if isinstance(text_or_lines, str) else text_or_lines


def _plain(lines: Iterable[str], name: str) -> Iterator[tuple[str, Record]]:
    """Title and abstract lines alternating, after optional page boilerplate (the bundled format)."""
    start, title = True, None
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line:
            continue
        if start:
            if BOILERPLATE.match(line):
                continue
            start = False
            if line.startswith(SUBSCRIBE) and len(line) > len(SUBSCRIBE):
                line = line[len(SUBSCRIBE):].strip()
        if title is None:
            title = (n, line)
            continue
        where = f"{name}:{title[0]}"
        yield where, record_to_paper({"title": title[1], "abstract": line}, where)
        title = None
    if title is not None:
        where = f"{name}:{title[0]}"
        yield where, Skip(where, "title without an abstract (the plain format alternates title and abstract lines)")


def _jsonl(lines: Iterable[str], name: str) -> Iterator[tuple[str, Record]]:
    """One JSON object per line: title, abstract and optional fields; arXiv snapshot records too."""
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            yield where, Skip(where, f"not valid JSON ({e.msg})")
            continue
        except RecursionError:
            yield where, Skip(where, "JSON nested too deeply")
            continue
        if not isinstance(record, dict):
            yield where, Skip(where, "expected a JSON object with title and abstract")
            continue
        yield where, record_to_paper(record, where)


def _json(lines: Iterable[str], name: str) -> Iterator[tuple[str, Record]]:
    """A JSON array of objects (read whole), or JSON lines under a .json name."""
    lines = iter(lines)
    head: list[str] = []
    for line in lines:
        head.append(line)
        if line.strip():
            break
    if not "".join(head).lstrip().startswith("["):
        yield from _jsonl([*head, *lines], name)
        return
    text = "".join([*head, *lines])
    try:
        records = json.loads(text)
    except json.JSONDecodeError as e:
        raise CorpusError(f"{name}:{e.lineno}: not valid JSON ({e.msg})") from None
    except RecursionError:
        raise CorpusError(f"{name}: JSON nested too deeply") from None
    if not isinstance(records, list):
        raise CorpusError(f"{name}: expected a JSON array of objects, or one JSON object per line")
    for i, record in enumerate(records, 1):
        where = f"{name}:record {i}"
        yield where, (record_to_paper(record, where) if isinstance(record, dict) else
                      Skip(where, "expected a JSON object with title and abstract"))


def _csv(lines: Iterable[str], name: str) -> Iterator[tuple[str, Record]]:
    """A header row with `title` and `abstract` columns (others optional)."""
    reader = csv.reader(lines)
    try:
        header = [h.strip().lower() for h in next(reader, [])]
        if "title" not in header or "abstract" not in header:
            raise CorpusError(f"{name}:1: CSV header needs 'title' and 'abstract' columns, found {header or 'none'}")
        start = reader.line_num + 1
        for row in reader:
            where, start = f"{name}:{start}", reader.line_num + 1
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > len(header):
                yield where, Skip(where, f"{len(row)} fields, but the header has {len(header)}")
                continue
            yield where, record_to_paper(dict(zip(header, row)), where)
    except csv.Error as e:
        raise CorpusError(f"{name}:{reader.line_num}: malformed CSV ({e})") from None


def _bibtex(lines: Iterable[str], name: str) -> Iterator[tuple[str, Record]]:
    """BibTeX entries through bibtexparser (v2), LaTeX accents and braces decoded. Entries need an abstract."""
    import bibtexparser
    from bibtexparser import middlewares
    from bibtexparser.model import Entry, ParsingFailedBlock

    text = "".join(lines)
    log = logging.getLogger("bibtexparser")
    level, log.level = log.level, logging.CRITICAL    # failed blocks are reported as skips, not log lines
    try:
        library = bibtexparser.parse_string(text, append_middleware=[middlewares.LatexDecodingMiddleware()])
    except Exception as e:  # the parser's own failure on odd input: one line, not a traceback
        raise CorpusError(f"{name}: BibTeX could not be parsed ({type(e).__name__})") from None
    finally:
        log.level = level
    for block in library.blocks:
        where = f"{name}:{(block.start_line or 0) + 1}"
        if isinstance(block, ParsingFailedBlock):
            error = block.error
            why = getattr(error, "abort_reason", None) or getattr(error, "message", None) or str(error)
            why = (str(why).strip().splitlines() or [type(error).__name__])[0][:160]
            yield where, Skip(where, f"malformed BibTeX entry ({why})")
        elif isinstance(block, Entry):
            yield where, record_to_paper(_bib_record(block), where)


def _bib_record(entry) -> dict:
    fields = {str(f.key).lower(): f.value for f in entry.fields}
    text = {k: clean_text(v) for k, v in fields.items()}
    authors = [a.strip() for a in re.split(r"\s+and\s+", text.get("author", "")) if a.strip()]
    # "Last, First" -> "First Last"; names with more commas stay as written
    authors = [" ".join(reversed([p.strip() for p in a.split(",")])) if a.count(",") == 1 else a for a in authors]
    arxiv = text.get("eprint") if text.get("archiveprefix", "").lower() == "arxiv" else ""
    return {"title": fields.get("title"), "abstract": fields.get("abstract"), "authors": authors,
            "year": text.get("year"), "date": text.get("date"), "doi": text.get("doi") or arxiv,
            "url": text.get("url") or (f"https://arxiv.org/abs/{arxiv}" if arxiv and not text.get("doi") else ""),
            "categories": text.get("primaryclass", "")}


PARSERS = {"plain": _plain, "jsonl": _jsonl, "json": _json, "csv": _csv, "bibtex": _bibtex}


def parse_text(text: str | Iterable[str], fmt: str, name: str = "<text>") -> Iterator[Record]:
    """The records of text in one format ("plain", "jsonl", "json", "csv", "bibtex"): Papers and Skips."""
    for _, record in PARSERS[fmt](_as_lines(text), name):
        yield record


def parse_plain(text: str | Iterable[str], name: str = "<text>") -> Iterator[Record]:
    """Title and abstract lines alternating, after optional page boilerplate."""
    return parse_text(text, "plain", name)


def file_format(path: Path) -> str:
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise CorpusError(f"{path}: unknown format {path.suffix or '(no suffix)'}; "
                          f"use {', '.join(SUFFIXES)} files")
    return fmt
