"""One paper record: its fields made into a Paper (dates, years, authors, TeX accents), its id, or the reason it
is skipped."""
from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from email.utils import parsedate_to_datetime
from typing import Union

from rag.filters import split_categories
from rag.types import Paper

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


# -- fields -> Paper -------------------------------------------------------------------------------------------
def clean_text(value) -> str:
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
    m = re.search(r"\d{4}", clean_text(value))
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
        return ", ".join(clean_text(a) for a in authors if clean_text(a))
    if not clean_text(authors) and isinstance(record.get("authors_parsed"), list):   # arXiv: [last, first, suffix]
        names = [" ".join(clean_text(p) for p in reversed(a[:2]) if clean_text(p)) for a in record["authors_parsed"]
                 if isinstance(a, list)]
        return ", ".join(n for n in names if n)
    return clean_text(authors)


def record_to_paper(record: dict, where: str) -> Record:
    """A Paper from a record's fields (title, abstract; id, authors, year, date, url, categories, doi), or a Skip."""
    for field in ("title", "abstract"):
        value = record.get(field)
        if value is not None and not isinstance(value, (str, int, float)):
            return Skip(where, f"{field} is a JSON {type(value).__name__}, not text")
        if not clean_text(value):
            return Skip(where, f"no {field}")
    title, abstract = clean_text(record["title"]), clean_text(record["abstract"])
    arxiv = any(k in record for k in ARXIV_FIELDS)
    day = _record_date(record)
    year = _year(record.get("year")) or (int(day[:4]) if day else None)
    given = clean_text(record.get("id")) or clean_text(record.get("doi"))
    url = clean_text(record.get("url"))
    if not url and clean_text(record.get("id")) and arxiv:
        url = f"https://arxiv.org/abs/{clean_text(record['id'])}"
    if not url and clean_text(record.get("doi")):
        url = f"https://doi.org/{clean_text(record['doi'])}"
    categories = record.get("categories")
    categories = categories if isinstance(categories, (list, str)) else ""
    authors = _detex(_authors(record)) if arxiv else _authors(record)
    return Paper(paper_id=make_paper_id(title, given), title=title, abstract=abstract, authors=authors,
                 year=year, url=url, categories=" ".join(split_categories(categories)), date=day)
