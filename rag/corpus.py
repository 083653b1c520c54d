"""Read paper records from plain text, JSONL (including the arXiv metadata snapshot), JSON, CSV and BibTeX.

Every parser yields, per record, a `Paper` or a `Skip` (file:line and the reason it cannot be used), so one bad
record never stops an ingest. A problem with a whole file (missing, binary, not UTF-8, empty, a CSV without
title and abstract columns, a JSON array that does not parse) raises CorpusError: `check_sources` reads every
file once, without keeping anything, so such a file stops an ingest before anything is written.

Plain text, JSONL and CSV are streamed a line at a time. BibTeX and JSON arrays are read whole, because
their parsers need the whole text; such files are small in practice.
"""
from __future__ import annotations

import csv
import hashlib
import json
import logging
import re
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator, Union

from rag.errors import CorpusError
from rag.filters import RecordFilter, split_categories
from rag.types import Paper

BOILERPLATE = re.compile(r"^Get trending papers in your email inbox", re.I)
SUBSCRIBE = "Subscribe"
FORMATS = {".txt": "plain", ".jsonl": "jsonl", ".json": "json", ".csv": "csv", ".bib": "bibtex"}
SUFFIXES = tuple(FORMATS)
ARXIV_FIELDS = ("update_date", "versions")   # a JSONL record with either is an arXiv snapshot record


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that is not ingested, and why."""
    where: str                  # "file:line"
    reason: str
    kind: str = "error"         # "error" (unusable record), "duplicate" or "filtered" (by the ingest filters)

    def line(self) -> str:
        return f"{self.where}: {self.kind}: {self.reason}"


Record = Union[Paper, Skip]


def bundled_corpus() -> Path:
    """The 213 ML abstracts shipped with the package."""
    return Path(str(resources.files("rag") / "data" / "trending-papers.txt"))


def normalize_title(title: str) -> str:
    """Lower-case words only: the key under which duplicates merge."""
    lowered = title.lower()
    # ASCII words first, so the ids of existing stores stay the same; a title with none (Chinese, Greek)
    # falls back to its Unicode words rather than to the empty key that all such titles would share.
    return " ".join(re.findall(r"[a-z0-9]+", lowered) or re.findall(r"\w+", lowered))


def make_paper_id(title: str, given: str = "") -> str:
    """A stable id: the record's own id if it has one, else a hash of the normalised title."""
    given = re.sub(r"[^A-Za-z0-9._/-]+", "-", given.strip()).strip("-")
    if given:
        return given
    key = normalize_title(title) or " ".join(title.split())
    return "p" + hashlib.sha1(key.encode()).hexdigest()[:12]


def content_hash(paper: Paper) -> str:
    """Changes when the text that gets embedded changes."""
    return hashlib.sha1(f"{paper.title}\n{paper.abstract}".encode()).hexdigest()[:12]


# -- fields -> Paper -------------------------------------------------------------------------------------------
def _text(value) -> str:
    if isinstance(value, str):
        return " ".join(value.split())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return ""


def _iso_date(value) -> str:
    """'2023-05-12...' or 'Mon, 2 Apr 2007 19:18:42 GMT' -> '2023-05-12'; '' when it is not a date."""
    if not isinstance(value, str):
        return ""
    m = re.match(r"\s*(\d{4})-(\d{2})-(\d{2})", value)
    try:
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
        return parsedate_to_datetime(value).date().isoformat()
    except (TypeError, ValueError, IndexError, OverflowError):
        return ""


def _record_date(record: dict) -> str:
    """The first-version date of an arXiv record (else its last update), or a `date`/`published` field."""
    versions = record.get("versions")
    first = versions[0] if isinstance(versions, list) and versions else None
    candidates = [record.get("date"), record.get("published"),
                  first.get("created") if isinstance(first, dict) else None, record.get("update_date")]
    return next((d for d in map(_iso_date, candidates) if d), "")


def _year(value) -> int | None:
    m = re.search(r"\d{4}", _text(value))
    return int(m.group()) if m else None


def _detex(text: str) -> str:
    """TeX accents as letters (C. Bal\\'azs -> C. Balázs), as arXiv writes author names; text as is if it fails."""
    if "\\" not in text and "{" not in text:
        return text
    from pylatexenc.latex2text import LatexNodes2Text      # installed with bibtexparser

    log = logging.getLogger("pylatexenc")
    level, log.level = log.level, logging.CRITICAL
    try:
        return " ".join(LatexNodes2Text().latex_to_text(text).split()) or text
    except Exception:
        return text
    finally:
        log.level = level


def _authors(record: dict) -> str:
    authors = record.get("authors")
    if isinstance(authors, list):
        return ", ".join(_text(a) for a in authors if _text(a))
    if not _text(authors) and isinstance(record.get("authors_parsed"), list):   # arXiv: [last, first, suffix]
        names = [" ".join(_text(p) for p in reversed(a[:2]) if _text(p)) for a in record["authors_parsed"]
                 if isinstance(a, list)]
        return ", ".join(n for n in names if n)
    return _text(authors)


def record_to_paper(record: dict, where: str) -> Record:
    """A Paper from a record's fields (title, abstract; id, authors, year, date, url, categories, doi), or a Skip."""
    for field in ("title", "abstract"):
        value = record.get(field)
        if value is not None and not isinstance(value, (str, int, float)):
            return Skip(where, f"{field} is a JSON {type(value).__name__}, not text")
        if not _text(value):
            return Skip(where, f"no {field}")
    title, abstract = _text(record["title"]), _text(record["abstract"])
    arxiv = any(k in record for k in ARXIV_FIELDS)
    day = _record_date(record)
    year = _year(record.get("year")) or (int(day[:4]) if day else None)
    given = _text(record.get("id")) or _text(record.get("doi"))
    url = _text(record.get("url"))
    if not url and _text(record.get("id")) and arxiv:
        url = f"https://arxiv.org/abs/{_text(record['id'])}"
    if not url and _text(record.get("doi")):
        url = f"https://doi.org/{_text(record['doi'])}"
    categories = record.get("categories")
    categories = categories if isinstance(categories, (list, str)) else ""
    authors = _detex(_authors(record)) if arxiv else _authors(record)
    return Paper(paper_id=make_paper_id(title, given), title=title, abstract=abstract, authors=authors,
                 year=year, url=url, categories=" ".join(split_categories(categories)), date=day)


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
    text = {k: _text(v) for k, v in fields.items()}
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
