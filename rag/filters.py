"""Metadata filters: which records to ingest (category, date) and which papers a question may use (year, category).

At ingest a `RecordFilter` keeps or drops each record. At question time `where_filter` builds the Chroma
`where` dict that the dense search uses, and `matches` applies the same dict to a `Paper` for BM25.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from rag.errors import InputError
from rag.types import Paper

CATEGORY_KEY = "category_list"      # chunk metadata: the paper's categories as a list (Chroma `$contains`)
YEAR_RANGE = re.compile(r"^\s*(\d{4})\s*(?:(-|\.\.)\s*(\d{4})?)?\s*$")


def parse_years(text: str | int | None) -> tuple[int, int] | None:
    """'2023' -> (2023, 2023); '2020-2023' -> (2020, 2023); '2020-' -> (2020, 9999); None -> None."""
    if text is None or str(text).strip() == "":
        return None
    m = YEAR_RANGE.match(str(text))
    if not m:
        raise InputError(f"year {text!r} is not a year (2023) or a range of years (2020-2023)")
    lo = int(m.group(1))
    hi = lo if not m.group(2) else int(m.group(3) or 9999)
    if hi < lo:
        raise InputError(f"year range {text!r} ends before it starts")
    return lo, hi


def parse_date(text: str, name: str = "date") -> date:
    """An ISO date (2023-01-31), or a bare year or year-month meaning its first day."""
    text = str(text).strip()
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", text)
    try:
        if not m:
            raise ValueError
        return date(int(m.group(1)), int(m.group(2) or 1), int(m.group(3) or 1))
    except ValueError:
        raise InputError(f"--{name} {text!r} is not a date like 2023-01-31") from None


def split_categories(value) -> list[str]:
    """'cs.LG stat.ML' or 'cs.LG, stat.ML' or ['cs.LG'] -> ['cs.LG', 'stat.ML'] (order kept, no repeats)."""
    items = value if isinstance(value, (list, tuple)) else re.split(r"[\s,;]+", str(value or ""))
    out: list[str] = []
    for item in items:
        item = str(item).strip()
        if item and item not in out:
            out.append(item)
    return out


@dataclass(frozen=True)
class RecordFilter:
    """Which records an ingest keeps: any of `categories`, dated within [since, until]. Empty keeps all."""
    categories: tuple[str, ...] = ()
    since: date | None = None
    until: date | None = None

    def __bool__(self) -> bool:
        return bool(self.categories or self.since or self.until)

    def reason(self, paper: Paper) -> str | None:
        """Why the paper is left out, or None when it is kept."""
        if self.categories:
            cats = split_categories(paper.categories)
            if not set(cats) & set(self.categories):
                return f"categories {' '.join(cats) or '(none)'} not among {' '.join(self.categories)}"
        if self.since or self.until:
            when = paper.date or (str(paper.year) if paper.year else "")
            if not when:
                return "no date or year to compare with --since/--until"
            if paper.date:
                day = date.fromisoformat(paper.date)
                early, late = self.since and day < self.since, self.until and day > self.until
            else:   # only a year: kept when that year overlaps the range
                early = self.since and paper.year < self.since.year
                late = self.until and paper.year > self.until.year
            if early:
                return f"dated {when}, before {self.since.isoformat()}"
            if late:
                return f"dated {when}, after {self.until.isoformat()}"
        return None


def where_filter(years: tuple[int, int] | None = None, categories: list[str] | tuple[str, ...] = ()) -> dict | None:
    """The Chroma `where` for a year range and any of the categories; None when there is no filter."""
    parts: list[dict] = []
    if years:
        lo, hi = years
        parts += [{"year": lo}] if lo == hi else [{"year": {"$gte": lo}}, {"year": {"$lte": hi}}]
    cats = [{CATEGORY_KEY: {"$contains": c}} for c in categories]
    if len(cats) > 1:
        parts.append({"$or": cats})
    elif cats:
        parts.append(cats[0])
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else {"$and": parts}


def describe(where: dict | None) -> str:
    """'year 2023, category cs.LG' for messages."""
    if not where:
        return "no filter"
    out = []
    for key, cond in where.items():
        if key in ("$and", "$or"):
            joined = (", " if key == "$and" else " or ").join(describe(c) for c in cond)
            out.append(joined)
        elif isinstance(cond, dict):
            (op, value), = cond.items()
            name = "category" if key == CATEGORY_KEY else key
            sign = {"$eq": "", "$contains": "", "$gte": ">= ", "$lte": "<= ", "$gt": "> ", "$lt": "< "}.get(op, op + " ")
            out.append(f"{name} {sign}{value}")
        else:
            out.append(f"{key} {cond}")
    return ", ".join(out)


def matches(paper: Paper, where: dict | None) -> bool:
    """The Chroma `where` subset that where_filter builds, applied to a Paper (for BM25 hits)."""
    if not where:
        return True
    for key, cond in where.items():
        if key == "$and":
            if not all(matches(paper, c) for c in cond):
                return False
            continue
        if key == "$or":
            if not any(matches(paper, c) for c in cond):
                return False
            continue
        value = split_categories(paper.categories) if key == CATEGORY_KEY else getattr(paper, key, None)
        conds = cond if isinstance(cond, dict) else {"$eq": cond}
        for op, want in conds.items():
            if op == "$eq" and value != want:
                return False
            if op == "$ne" and value == want:
                return False
            if op == "$contains" and (not isinstance(value, list) or want not in value):
                return False
            if op == "$in" and value not in want:
                return False
            if op in ("$gte", "$lte", "$gt", "$lt"):
                if value is None or not {"$gte": value >= want, "$lte": value <= want,
                                         "$gt": value > want, "$lt": value < want}[op]:
                    return False
    return True
