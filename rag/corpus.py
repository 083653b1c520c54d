"""Read paper abstracts from the bundled plain format, JSONL or CSV into `Paper`s."""
from __future__ import annotations

import csv
import hashlib
import json
import re
from importlib import resources
from pathlib import Path
from typing import Iterable, Iterator

from rag.errors import CorpusError
from rag.types import Paper

BOILERPLATE = re.compile(r"^Get trending papers in your email inbox", re.I)
SUBSCRIBE = "Subscribe"
SUFFIXES = (".txt", ".jsonl", ".json", ".csv")


def bundled_corpus() -> Path:
    """The 213 ML abstracts shipped with the package."""
    return Path(str(resources.files("rag") / "data" / "trending-papers.txt"))


def normalize_title(title: str) -> str:
    """Lower-case words only: the key under which duplicates merge."""
    return " ".join(re.findall(r"[a-z0-9]+", title.lower()))


def make_paper_id(title: str, given: str = "") -> str:
    """A stable id: the record's own id if it has one, else a hash of the normalised title."""
    given = re.sub(r"[^A-Za-z0-9._/-]+", "-", given.strip()).strip("-")
    if given:
        return given
    return "p" + hashlib.sha1(normalize_title(title).encode()).hexdigest()[:12]


def content_hash(paper: Paper) -> str:
    """Changes when the text that gets embedded changes."""
    return hashlib.sha1(f"{paper.title}\n{paper.abstract}".encode()).hexdigest()[:12]


def _paper(title: str, abstract: str, where: str, **extra) -> Paper:
    title, abstract = " ".join(str(title or "").split()), " ".join(str(abstract or "").split())
    if not title:
        raise CorpusError(f"{where}: record has no title")
    if not abstract:
        raise CorpusError(f"{where}: record has no abstract")
    year = extra.get("year")
    try:
        year = int(str(year)[:4]) if year not in (None, "") else None
    except ValueError:
        year = None
    authors = extra.get("authors") or ""
    if isinstance(authors, list):
        authors = ", ".join(map(str, authors))
    return Paper(
        paper_id=make_paper_id(title, str(extra.get("id") or "")),
        title=title,
        abstract=abstract,
        authors=str(authors),
        year=year,
        url=str(extra.get("url") or ""),
        categories=str(extra.get("categories") or ""),
    )


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CorpusError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CorpusError(f"{path}: is a folder; pass files or use a folder of {', '.join(SUFFIXES)} files") from None
    if b"\x00" in data[:4096]:
        raise CorpusError(f"{path}: looks like a binary file, not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise CorpusError(f"{path}:{line}: not UTF-8 text; re-save the file as UTF-8") from None


def parse_plain(text: str, name: str = "<text>") -> Iterator[Paper]:
    """Title and abstract lines alternating, after optional page boilerplate."""
    lines = [(i + 1, line.strip()) for i, line in enumerate(text.splitlines()) if line.strip()]
    while lines and BOILERPLATE.match(lines[0][1]):
        lines.pop(0)
    if lines and lines[0][1].startswith(SUBSCRIBE) and len(lines[0][1]) > len(SUBSCRIBE):
        lines[0] = (lines[0][0], lines[0][1][len(SUBSCRIBE):].strip())
    if len(lines) % 2:
        n, last = lines[-1]
        raise CorpusError(f"{name}:{n}: title without an abstract (the plain format alternates title and abstract lines)")
    for (n, title), (_, abstract) in zip(lines[::2], lines[1::2]):
        yield _paper(title, abstract, f"{name}:{n}")


def parse_jsonl(text: str, name: str = "<text>") -> Iterator[Paper]:
    """One JSON object per line with `title`, `abstract` and optional `id`, `authors`, `year`, `url`."""
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            raise CorpusError(f"{name}:{n}: not valid JSON ({e.msg})") from None
        if not isinstance(record, dict):
            raise CorpusError(f"{name}:{n}: expected a JSON object with title and abstract")
        yield _paper(record.get("title"), record.get("abstract"), f"{name}:{n}",
                     **{k: record.get(k) for k in ("id", "authors", "year", "url", "categories")})


def parse_csv(text: str, name: str = "<text>") -> Iterator[Paper]:
    """A header row with `title` and `abstract` columns (others optional)."""
    reader = csv.DictReader(text.splitlines())
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    if "title" not in header or "abstract" not in header:
        raise CorpusError(f"{name}:1: CSV header needs 'title' and 'abstract' columns, found {header or 'none'}")
    reader.fieldnames = header
    try:
        for row in reader:
            n = reader.line_num
            if None in row:
                raise CorpusError(f"{name}:{n}: more fields than the header has")
            yield _paper(row.get("title"), row.get("abstract"), f"{name}:{n}",
                         **{k: row.get(k) for k in ("id", "authors", "year", "url", "categories")})
    except csv.Error as e:
        raise CorpusError(f"{name}:{reader.line_num}: malformed CSV ({e})") from None


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not found:
            raise CorpusError(f"{path}: folder holds no {', '.join(SUFFIXES)} files")
        return found
    return [path]


def load_corpus(paths: Iterable[Path | str] | None = None) -> list[Paper]:
    """Papers from the given files or folders (default: the bundled abstracts), duplicates merged."""
    papers: dict[str, Paper] = {}
    seen_titles: set[str] = set()
    for path in [Path(p) for p in (paths or [bundled_corpus()])]:
        for file in _files(path):
            text = _read_text(file)
            if not text.strip():
                raise CorpusError(f"{file}: file is empty")
            suffix = file.suffix.lower()
            parse = parse_jsonl if suffix in (".jsonl", ".json") else parse_csv if suffix == ".csv" else parse_plain
            for paper in parse(text, str(file)):
                key = normalize_title(paper.title)
                if paper.paper_id in papers or key in seen_titles:
                    continue
                papers[paper.paper_id] = paper
                seen_titles.add(key)
    return list(papers.values())
