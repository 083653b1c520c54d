"""Pure scoring functions and their aggregation into the contract's summary.

A result row (one line of results.jsonl) is the answer object plus the question's fields:
    {"id", "type", "gold_titles", "answer_keywords", "answer", "abstained",
     "citations": [{"title", "supported", ...}], "sources": [{"rank", "title", ...}],
     "timings": {"total_s", "first_token_s", ...}, "error": str | None, "scores": {...}}

How the edge cases count (the same rules for every pipeline):
- Answerable means type != "unanswerable". Retrieval, citation and keyword metrics use answerable
  questions only; abstention metrics use all questions.
- An answerable question the pipeline abstained on scores 0 keyword accuracy, and (having no
  citations) 0 citation recall; it has no citation precision (nothing cited), so it is left out
  of that mean. `answerable_refusal_rate` counts these refusals.
- A question with no answer keywords (some summary questions) has no keyword score.
- A question whose run raised an error counts as a failure: no sources, no citations, not
  abstained, no latency. `errors` counts them.
- Means are over questions (macro); `supported_rate` pools every citation (micro), and
  `cited_sentence_rate` every sentence of the answers that were given (abstentions have none).
- Titles match case-insensitively after Unicode (NFKC) and whitespace normalisation.
- A metric with no data (e.g. abstention recall for a type without unanswerable questions) is None.
"""
from __future__ import annotations

import math
import unicodedata
from typing import Iterable, Sequence

from rag.answer.voice import is_echo, is_first_person
from rag.text import markers_in, split_sentences

TYPES = ("factoid", "paraphrase", "multi", "summary", "unanswerable", "followup")
SUMMARY_KEYS = ("n", "recall_at_5", "mrr", "citation_precision", "citation_recall", "keyword_accuracy",
                "abstention_precision", "abstention_recall", "supported_rate", "latency_p50_s",
                "latency_p95_s", "first_token_p50_s", "answerable_refusal_rate", "cited_sentence_rate", "errors")


def norm_title(title: str) -> str:
    """The key under which two spellings of a title match: NFKC, lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", str(title)).split()).casefold()


def _distinct(titles: Iterable[str]) -> list[str]:
    """Normalised titles, first occurrence kept, empties dropped."""
    out: list[str] = []
    for t in titles:
        key = norm_title(t)
        if key and key not in out:
            out.append(key)
    return out


def recall_at_k(source_titles: Sequence[str], gold_titles: Sequence[str], k: int = 5) -> float | None:
    """Share of the gold papers found among the first k sources; None without gold papers."""
    gold = set(_distinct(gold_titles))
    if not gold:
        return None
    top = set(_distinct(source_titles)[:k])
    return len(gold & top) / len(gold)


def reciprocal_rank(source_titles: Sequence[str], gold_titles: Sequence[str]) -> float | None:
    """1 / rank of the first gold paper among the sources (0 if none); None without gold papers."""
    gold = set(_distinct(gold_titles))
    if not gold:
        return None
    for rank, title in enumerate(_distinct(source_titles), 1):
        if title in gold:
            return 1.0 / rank
    return 0.0


def citation_precision(cited_titles: Sequence[str], gold_titles: Sequence[str]) -> float | None:
    """Share of the distinct cited papers that are gold; None when nothing is cited.

    A citation that names no paper (a marker pointing at no source) counts as a non-gold paper.
    """
    cited = [norm_title(t) for t in cited_titles]
    if not cited:
        return None
    distinct = list(dict.fromkeys(cited))
    gold = set(_distinct(gold_titles))
    return sum(t in gold for t in distinct) / len(distinct)


def citation_recall(cited_titles: Sequence[str], gold_titles: Sequence[str]) -> float | None:
    """Share of the gold papers that are cited; None without gold papers."""
    gold = set(_distinct(gold_titles))
    if not gold:
        return None
    return len(gold & set(_distinct(cited_titles))) / len(gold)


def keyword_hit(answer: str, keywords: Sequence[str]) -> bool:
    """True when the answer contains every keyword, ignoring case and runs of whitespace."""
    text = " ".join(str(answer).split()).casefold()
    return all(" ".join(k.split()).casefold() in text for k in keywords)


def abstention_precision(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (abstained, is_unanswerable) pairs that abstained, the share that were unanswerable."""
    abstained = [unanswerable for did, unanswerable in pairs if did]
    return sum(abstained) / len(abstained) if abstained else None


def abstention_recall(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Of the (abstained, is_unanswerable) pairs that were unanswerable, the share that abstained."""
    wanted = [did for did, unanswerable in pairs if unanswerable]
    return sum(wanted) / len(wanted) if wanted else None


def supported_rate(supported_flags: Iterable[bool]) -> float | None:
    """Share of citations marked supported; None without citations."""
    flags = [bool(f) for f in supported_flags]
    return sum(flags) / len(flags) if flags else None


def percentile(values: Iterable[float], q: float) -> float | None:
    """The q-th percentile (0..100) with linear interpolation, as numpy's default; None when empty."""
    xs = sorted(float(v) for v in values if v is not None)
    if not xs:
        return None
    pos = (len(xs) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def mean(values: Iterable[float | None]) -> float | None:
    """Mean of the values that are not None; None when there are none."""
    xs = [float(v) for v in values if v is not None]
    return sum(xs) / len(xs) if xs else None


# The path each typed question should take (rag.answer.route); unanswerable questions may take any.
EXPECTED_ROUTE = {"factoid": "single", "paraphrase": "single", "followup": "single", "multi": "multi",
                  "summary": "summary"}


def is_answerable(row: dict) -> bool:
    return row.get("type") != "unanswerable"


def score_row(row: dict, k: int = 5) -> dict:
    """Per-question scores of one result row (see the module docstring for the edge cases)."""
    gold = row.get("gold_titles") or []
    sources = [s.get("title", "") for s in row.get("sources") or []]
    cited = [c.get("title", "") for c in row.get("citations") or []]
    abstained = bool(row.get("abstained"))
    answerable = is_answerable(row)
    keywords = row.get("answer_keywords") or []
    if not answerable or not keywords:
        kw = None
    else:
        kw = 0.0 if abstained or row.get("error") else float(keyword_hit(row.get("answer", ""), keywords))
    flags = [bool(c.get("supported")) for c in row.get("citations") or []]
    sentences = [] if abstained or row.get("error") else split_sentences(row.get("answer") or "")
    cited_sentences = [x for x in sentences if markers_in(x)]
    expected_route = EXPECTED_ROUTE.get(row.get("type"))
    return {
        "n_first_person": sum(is_first_person(x) for x in cited_sentences),
        "n_echo": sum(is_echo(x, row.get("question", "")) for x in cited_sentences),
        "route_ok": (row.get("route") == expected_route) if expected_route and row.get("route") else None,
        "n_sentences": len(sentences),
        "n_cited_sentences": sum(1 for x in sentences if markers_in(x)),
        "recall_at_5": recall_at_k(sources, gold, k) if answerable else None,
        "reciprocal_rank": reciprocal_rank(sources, gold) if answerable else None,
        "citation_precision": citation_precision(cited, gold) if answerable else None,
        "citation_recall": citation_recall(cited, gold) if answerable else None,
        "keyword_hit": kw,
        "abstained": abstained,
        "refused_answerable": abstained if answerable else None,
        "missed_refusal": (not abstained) if not answerable else None,
        "n_citations": len(flags),
        "n_supported": sum(flags),
        "missing_gold": [t for t in gold if norm_title(t) not in set(_distinct(sources[:k]))] if answerable else [],
    }


def _round(x: float | None, digits: int = 4) -> float | None:
    return None if x is None else round(x, digits)


def _summarize_group(rows: Sequence[dict]) -> dict:
    scores = [score_row(r) for r in rows]   # recomputed: rows resumed from older runs score alike
    answerable = [s for r, s in zip(rows, scores) if is_answerable(r)]
    pairs = [(bool(r.get("abstained")), not is_answerable(r)) for r in rows]
    flags = [bool(c.get("supported")) for r in rows for c in r.get("citations") or []]
    ok = [r for r in rows if not r.get("error")]
    total = [(r.get("timings") or {}).get("total_s") for r in ok]
    first = [(r.get("timings") or {}).get("first_token_s") for r in ok]
    out = {
        "n": len(rows),
        "recall_at_5": mean(s["recall_at_5"] for s in answerable),
        "mrr": mean(s["reciprocal_rank"] for s in answerable),
        "citation_precision": mean(s["citation_precision"] for s in answerable),
        "citation_recall": mean(s["citation_recall"] for s in answerable),
        "keyword_accuracy": mean(s["keyword_hit"] for s in answerable),
        "abstention_precision": abstention_precision(pairs),
        "abstention_recall": abstention_recall(pairs),
        "supported_rate": supported_rate(flags),
        "latency_p50_s": percentile(total, 50),
        "latency_p95_s": percentile(total, 95),
        "first_token_p50_s": percentile(first, 50),
        "answerable_refusal_rate": mean(float(s["abstained"]) for s in answerable) if answerable else None,
        "first_sentence_p50_s": percentile([(r.get("timings") or {}).get("first_sentence_s") for r in ok], 50),
        "first_person_sentences": sum(s["n_first_person"] for s in scores),
        "echo_sentences": sum(s["n_echo"] for s in scores),
        "route_accuracy": mean(float(s["route_ok"]) for s in scores if s["route_ok"] is not None),
        "cited_sentence_rate": (sum(s["n_cited_sentences"] for s in scores) / n_sentences
                                if (n_sentences := sum(s["n_sentences"] for s in scores)) else None),
        "errors": sum(1 for r in rows if r.get("error")),
    }
    return {k: (_round(v) if isinstance(v, float) else v) for k, v in out.items()}


def summarize(rows: Sequence[dict]) -> dict:
    """The contract's summary: every metric over all rows, and again per question type under "by_type"."""
    summary = _summarize_group(rows)
    order = [t for t in TYPES if any(r.get("type") == t for r in rows)]
    order += sorted({r.get("type") for r in rows} - set(order) - {None})
    summary["by_type"] = {t: _summarize_group([r for r in rows if r.get("type") == t]) for t in order}
    return summary
