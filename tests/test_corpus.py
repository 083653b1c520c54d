import json

import pytest

from rag.corpus import bundled_corpus, load_corpus, make_paper_id, parse_plain
from rag.errors import CorpusError


def test_bundled_corpus_drops_boilerplate_and_subscribe_prefix():
    papers = load_corpus()
    assert len(papers) == 213
    assert papers[0].title == "Identification of Systematic Errors of Image Classifiers on Rare Subgroups"
    assert not any(p.title.startswith(("Subscribe", "Get trending")) for p in papers)
    assert len({p.paper_id for p in papers}) == 213


def test_paper_ids_are_stable_and_ignore_case_and_spacing():
    assert make_paper_id("Poincaré  Embeddings") == make_paper_id("poincaré embeddings")
    assert make_paper_id("A title", "arXiv:1705.08039") == "arXiv-1705.08039"


def test_plain_format_with_odd_line_count_names_the_line(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("Title one\nAbstract one.\nTitle without abstract\n")
    with pytest.raises(CorpusError, match=r"p\.txt:3: title without an abstract"):
        load_corpus([f])


def test_jsonl_and_csv_read_optional_fields(tmp_path):
    j = tmp_path / "a.jsonl"
    j.write_text(json.dumps({"id": "x1", "title": "T1", "abstract": "A one.", "authors": ["Ann", "Bo"],
                             "year": 2021, "url": "http://u"}) + "\n\n")
    c = tmp_path / "b.csv"
    c.write_text('title,abstract,year\n"T2","A, two.",2020\n')
    papers = load_corpus([j, c])
    assert [p.title for p in papers] == ["T1", "T2"]
    assert papers[0].paper_id == "x1" and papers[0].authors == "Ann, Bo" and papers[0].year == 2021
    assert papers[1].abstract == "A, two." and papers[1].year == 2020


@pytest.mark.parametrize("name,content,message", [
    ("bad.jsonl", '{"title": "T", "abstract": "A"}\n{not json}\n', r"bad\.jsonl:2: not valid JSON"),
    ("missing.jsonl", '{"title": "T"}\n', r"missing\.jsonl:1: record has no abstract"),
    ("bad.csv", "name,text\nx,y\n", r"bad\.csv:1: CSV header needs 'title' and 'abstract'"),
    ("empty.txt", "  \n", r"empty\.txt: file is empty"),
])
def test_malformed_files_get_one_line_errors_naming_file_and_line(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(CorpusError, match=message) as e:
        load_corpus([f])
    assert "\n" not in str(e.value)


def test_binary_and_non_utf8_files_are_refused(tmp_path):
    b = tmp_path / "b.txt"
    b.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CorpusError, match="binary"):
        load_corpus([b])
    latin = tmp_path / "l.txt"
    latin.write_bytes("Title\nAbstract caf\xe9\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"l\.txt:2: not UTF-8"):
        load_corpus([latin])


def test_duplicates_across_files_merge_by_title(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Same Title\nFirst abstract.\n")
    b.write_text("same   title\nSecond abstract.\n")
    assert len(load_corpus([a, b])) == 1


def test_folder_is_read_recursively(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("T\nA.\n")
    assert [p.title for p in load_corpus([tmp_path])] == ["T"]


def test_plain_parser_without_boilerplate():
    papers = list(parse_plain("T1\nA1\n\nT2\nA2\n"))
    assert [(p.title, p.abstract) for p in papers] == [("T1", "A1"), ("T2", "A2")]
    assert bundled_corpus().exists()
