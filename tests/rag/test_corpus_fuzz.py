"""Property tests for the corpus parsers: whatever the bytes, a parser yields Papers and Skips or raises CorpusError,
and what it yields keeps the invariants the store relies on."""
import json
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.formats import FORMATS
from rag.records import Skip, normalize_title
from rag.corpus import check_sources, read_corpus
from rag.errors import CorpusError
from rag.types import Paper

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | text,
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                          max_leaves=8)
FIELDS = ["id", "title", "abstract", "authors", "year", "date", "url", "categories", "doi", "update_date", "versions",
          "authors_parsed"]
record = st.dictionaries(st.sampled_from(FIELDS) | text, json_value | text, max_size=8)
jsonl_line = st.one_of(record.map(json.dumps), json_value.map(json.dumps), text)
bib_piece = st.sampled_from(["@article{", "@misc{k,", "title = {", "abstract = ", "author = {A and B}", "year=2020",
                             "}", "{", "\"", ",", "\n", "@string{s = \"x\"}", "@comment{", "#", "\\'e", "$x^2$",
                             "@preamble{", "=", "@", "%"])


def _check(paths) -> list:
    """Run the check and the read; only CorpusError may escape, and the outputs keep their invariants."""
    try:
        total = check_sources(paths)
    except CorpusError as e:
        assert str(e) and "\n" not in str(e)
        return []
    records = list(read_corpus(paths))
    assert len(records) == total                        # one item per record: the progress bar's total is exact
    ids, titles = set(), set()
    for r in records:
        assert isinstance(r, (Paper, Skip))
        if isinstance(r, Skip):
            assert r.kind in ("error", "duplicate", "filtered") and r.reason and ":" in r.where
            assert "\n" not in r.line()
            continue
        assert r.title and r.abstract and r.paper_id
        assert r.title == " ".join(r.title.split()) and r.abstract == " ".join(r.abstract.split())
        assert r.year is None or isinstance(r.year, int)
        assert r.paper_id not in ids                    # duplicates merged
        key = normalize_title(r.title)
        assert not key or key not in titles
        ids.add(r.paper_id)
        titles.add(key)
    return records


@FUZZ
@given(data=st.binary(max_size=300), suffix=st.sampled_from(sorted(FORMATS)))
def test_any_bytes_in_any_format(tmp_path, data, suffix):
    f = tmp_path / f"corpus{suffix}"
    f.write_bytes(data)
    _check([f])


@FUZZ
@given(lines=st.lists(jsonl_line, max_size=8), newline=st.sampled_from(["\n", "\r\n"]))
def test_jsonl_records_of_any_shape(tmp_path, lines, newline):
    f = tmp_path / "c.jsonl"
    f.write_text(newline.join(lines), encoding="utf-8")
    _check([f])


@FUZZ
@given(rows=st.lists(st.lists(text, max_size=4), max_size=6),
       header=st.lists(st.sampled_from(["title", "abstract", "year", "id", "authors", "x"]), max_size=5))
def test_csv_of_any_shape(tmp_path, rows, header):
    import csv
    import io

    buf = io.StringIO()
    csv.writer(buf).writerows([header, *rows])
    f = tmp_path / "c.csv"
    f.write_text(buf.getvalue(), encoding="utf-8")
    _check([f])


@FUZZ
@given(pieces=st.lists(bib_piece | text, max_size=25))
def test_bibtex_fragments(tmp_path, pieces):
    f = tmp_path / "c.bib"
    f.write_text("".join(pieces), encoding="utf-8")
    _check([f])


@FUZZ
@given(lines=st.lists(st.text(string.printable, max_size=40), max_size=10))
def test_plain_text(tmp_path, lines):
    f = tmp_path / "c.txt"
    f.write_text("\n".join(lines), encoding="utf-8")
    _check([f])


@FUZZ
@given(papers=st.lists(st.tuples(st.text(string.ascii_letters + " ", min_size=1, max_size=12),
                                 st.text(string.ascii_letters + " .", min_size=1, max_size=30)), max_size=8))
def test_good_records_are_all_kept_or_merged_never_lost(tmp_path, papers):
    """Every record with a title and an abstract is a Paper, or a duplicate of an earlier one."""
    f = tmp_path / "c.jsonl"
    f.write_text("".join(json.dumps({"title": t, "abstract": a}) + "\n" for t, a in papers), encoding="utf-8")
    records = _check([f])
    usable = [(t, a) for t, a in papers if t.strip() and a.strip()]
    assert len(records) == len(papers)
    assert sum(isinstance(r, Paper) for r in records) == len({normalize_title(t) or t.strip() for t, _ in usable})
    assert all(r.kind == "duplicate" or r.reason in ("no title", "no abstract") for r in records if isinstance(r, Skip))


@pytest.mark.parametrize("suffix", sorted(FORMATS))
def test_empty_file_in_every_format_is_one_error(tmp_path, suffix):
    f = tmp_path / f"e{suffix}"
    f.write_text("\n \n")
    with pytest.raises(CorpusError, match="file is empty"):
        check_sources([f])
