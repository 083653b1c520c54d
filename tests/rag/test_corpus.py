import json

import pytest

from rag.records import Skip, make_paper_id, normalize_title
from rag.corpus import bundled_corpus, check_sources, load_corpus, read_corpus
from rag.formats import parse_plain, parse_text
from rag.errors import CorpusError
from rag.filters import RecordFilter, parse_date
from rag.types import Paper


def _records(paths, keep=None):
    records = list(read_corpus(paths, keep))
    return [r for r in records if isinstance(r, Paper)], [r for r in records if isinstance(r, Skip)]


def test_bundled_corpus_drops_boilerplate_and_subscribe_prefix():
    papers, skips = _records(None)
    assert len(papers) == 213 and skips == []
    assert papers[0].title == "Identification of Systematic Errors of Image Classifiers on Rare Subgroups"
    assert not any(p.title.startswith(("Subscribe", "Get trending")) for p in papers)
    assert len({p.paper_id for p in papers}) == 213
    assert check_sources(None) == 213


def test_paper_ids_are_stable_and_ignore_case_and_spacing():
    assert make_paper_id("Poincaré  Embeddings") == make_paper_id("poincaré embeddings")
    assert make_paper_id("A title", "arXiv:1705.08039") == "arXiv-1705.08039"


def test_titles_without_latin_letters_get_their_own_keys():
    assert normalize_title("深度学习模型") != normalize_title("图神经网络") != ""
    assert make_paper_id("深度学习模型") != make_paper_id("图神经网络")


def test_plain_format_title_without_abstract_is_skipped_with_its_line(tmp_path):
    f = tmp_path / "p.txt"
    f.write_text("Title one\nAbstract one.\nTitle without abstract\n")
    papers, skips = _records([f])
    assert [p.title for p in papers] == ["Title one"]
    assert [(s.where, s.kind) for s in skips] == [(f"{f}:3", "error")]
    assert "title without an abstract" in skips[0].reason


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


ARXIV = {"id": "0704.0001", "submitter": "Pavel Nadolsky", "authors": "C. Bal\\'azs, E. L. Berger, P. M. Nadolsky",
         "title": "Calculation of prompt diphoton production cross sections at Tevatron and\n  LHC energies",
         "comments": "37 pages", "journal-ref": "Phys.Rev.D76:013009,2007", "doi": "10.1103/PhysRevD.76.013009",
         "categories": "hep-ph cs.LG", "license": None,
         "abstract": "  A fully differential calculation in perturbative quantum chromodynamics is\npresented.\n",
         "versions": [{"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
                      {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"}],
         "update_date": "2008-11-13", "authors_parsed": [["Balázs", "C.", ""]]}


def test_arxiv_snapshot_records(tmp_path):
    f = tmp_path / "arxiv-metadata-oai-snapshot.json"     # the snapshot's own name: JSON lines under .json
    no_versions = {**ARXIV, "id": "2301.00002", "title": "Another paper", "versions": None}
    f.write_text(json.dumps(ARXIV) + "\n" + json.dumps(no_versions) + "\n")
    first, second = load_corpus([f])
    assert first.paper_id == "0704.0001" and first.url == "https://arxiv.org/abs/0704.0001"
    assert first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    assert first.abstract == "A fully differential calculation in perturbative quantum chromodynamics is presented."
    assert first.categories == "hep-ph cs.LG" and first.authors == "C. Balázs, E. L. Berger, P. M. Nadolsky"
    assert (first.date, first.year) == ("2007-04-02", 2007)      # the first version, not the last update
    assert (second.date, second.year) == ("2008-11-13", 2008)    # no versions: update_date


def test_ingest_filters_count_what_they_leave_out(tmp_path):
    f = tmp_path / "a.jsonl"
    rows = [{**ARXIV, "id": f"23{i:02d}.0001", "title": f"Paper {i}", "categories": cats,
             "versions": [{"created": f"Mon, 2 Jan {year} 10:00:00 GMT"}]}
            for i, (cats, year) in enumerate([("cs.LG", 2023), ("cs.CV", 2023), ("cs.LG stat.ML", 2021),
                                              ("stat.ML cs.LG", 2024)])]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    keep = RecordFilter(categories=("cs.LG",), since=parse_date("2023-01-01"), until=parse_date("2023-12-31"))
    papers, skips = _records([f], keep)
    assert [p.title for p in papers] == ["Paper 0"]
    assert [s.kind for s in skips] == ["filtered"] * 3
    assert "cs.CV" in skips[0].reason and "before 2023-01-01" in skips[1].reason and "after" in skips[2].reason
    either = RecordFilter(categories=("cs.CV", "stat.ML"))
    assert [p.title for p in load_corpus([f], either)] == ["Paper 1", "Paper 2", "Paper 3"]


def test_a_year_without_a_date_is_compared_by_year(tmp_path):
    f = tmp_path / "a.jsonl"
    f.write_text("".join(json.dumps({"title": f"T{y}", "abstract": "A.", "year": y}) + "\n" for y in (2022, 2023)))
    keep = RecordFilter(since=parse_date("2023-06-01"))
    assert [p.title for p in load_corpus([f], keep)] == ["T2023"]


BIB = r"""@comment{exported by a reference manager}
@string{icml = "ICML"}
@article{vaswani2017,
  title = {Attention Is {All} You Need},
  author = {Vaswani, Ashish and Shazeer, Noam and Parmar, Niki},
  year = {2017},
  abstract = {The dominant sequence transduction models are based on {C}onvolutional networks. Caf\'e na\"ive.},
  doi = {10.48550/arXiv.1706.03762},
}

@inproceedings{noabstract, title = {A Paper Without Abstract}, author = {Doe, Jane}, year = 2020}

@misc{eprint2023,
  title = "Quoted {LaTeX} Title",
  author = "Ann Lee and Bo Chen",
  date = {2023-05-04},
  abstract = "An abstract in quotes.",
  eprint = {2305.01234}, archivePrefix = {arXiv}, primaryClass = {cs.LG},
}
@article{broken,
  title = {Never closed
"""


def test_bibtex_through_bibtexparser(tmp_path):
    f = tmp_path / "refs.bib"
    f.write_text(BIB)
    papers, skips = _records([f])
    attention, quoted = papers
    assert attention.title == "Attention Is All You Need"
    assert attention.abstract == "The dominant sequence transduction models are based on Convolutional networks. Café naïve."
    assert attention.authors == "Ashish Vaswani, Noam Shazeer, Niki Parmar"
    assert attention.year == 2017 and attention.url == "https://doi.org/10.48550/arXiv.1706.03762"
    assert attention.paper_id == "10.48550/arXiv.1706.03762"
    assert (quoted.title, quoted.year, quoted.date, quoted.categories) == ("Quoted LaTeX Title", 2023, "2023-05-04", "cs.LG")
    assert quoted.url == "https://arxiv.org/abs/2305.01234" and quoted.authors == "Ann Lee, Bo Chen"
    assert [(s.where, s.kind) for s in skips] == [(f"{f}:11", "error"), (f"{f}:20", "error")]
    assert skips[0].reason == "no abstract" and skips[1].reason.startswith("malformed BibTeX entry")


def test_json_array_files(tmp_path):
    f = tmp_path / "a.json"
    f.write_text(json.dumps([{"title": "T1", "abstract": "A1."}, "not an object", {"title": "T2"}], indent=1))
    papers, skips = _records([f])
    assert [p.title for p in papers] == ["T1"]
    assert [s.reason for s in skips] == ["expected a JSON object with title and abstract", "no abstract"]
    bad = tmp_path / "bad.json"
    bad.write_text('[{"title": "T1",\n "abstract": }]')
    with pytest.raises(CorpusError, match=r"bad\.json:2: not valid JSON"):
        check_sources([bad])


@pytest.mark.parametrize("name,content,where,reason", [
    ("bad.jsonl", '{"title": "T", "abstract": "A"}\n{not json}\n', 2, "not valid JSON"),
    ("missing.jsonl", '{"title": "T"}\n{"title": "U", "abstract": "B"}\n', 1, "no abstract"),
    ("notitle.jsonl", '{"abstract": "A"}\n{"title": "U", "abstract": "B"}\n', 1, "no title"),
    ("list.jsonl", '{"title": ["T"], "abstract": "A"}\n{"title": "U", "abstract": "B"}\n', 1, "title is a JSON list"),
    ("array.jsonl", '[1, 2]\n{"title": "U", "abstract": "B"}\n', 1, "expected a JSON object"),
    ("wide.csv", 'title,abstract\nT,A,extra\nU,B\n', 2, "3 fields, but the header has 2"),
    ("blank.csv", 'title,abstract\n"",A\nU,B\n', 2, "no title"),
])
def test_bad_records_are_skipped_with_file_line_and_reason_and_the_rest_is_kept(tmp_path, name, content, where,
                                                                                   reason):
    f = tmp_path / name
    f.write_text(content)
    papers, skips = _records([f])
    assert len(papers) == 1                     # the good record of the file is still read
    assert len(skips) == 1 and skips[0].where == f"{f}:{where}" and reason in skips[0].reason
    assert "\n" not in skips[0].line()


@pytest.mark.parametrize("name,content,message", [
    ("bad.csv", "name,text\nx,y\n", r"bad\.csv:1: CSV header needs 'title' and 'abstract'"),
    ("empty.txt", "  \n", r"empty\.txt: file is empty"),
    ("empty.jsonl", "", r"empty\.jsonl: file is empty"),
    ("quote.csv", 'title,abstract\n"T,"A\x00"\n', r"quote\.csv"),
    ("notes.md", "# notes", r"notes\.md: unknown format \.md"),
])
def test_file_level_problems_are_one_line_errors(tmp_path, name, content, message):
    f = tmp_path / name
    f.write_text(content)
    with pytest.raises(CorpusError, match=message) as e:
        check_sources([f])
    assert "\n" not in str(e.value)


def test_binary_non_utf8_utf16_and_missing_files_are_refused(tmp_path):
    b = tmp_path / "b.txt"
    b.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(CorpusError, match="binary"):
        check_sources([b])
    latin = tmp_path / "l.jsonl"
    latin.write_bytes(('{"title": "T", "abstract": "A"}\n' * 3 + '{"title": "caf\xe9"}\n').encode("latin-1"))
    with pytest.raises(CorpusError, match=r"l\.jsonl:4: not UTF-8"):
        check_sources([latin])
    u16 = tmp_path / "u.csv"
    u16.write_text("title,abstract\nT,A\n", encoding="utf-16")
    with pytest.raises(CorpusError, match="UTF-16"):
        check_sources([u16])
    with pytest.raises(CorpusError, match=r"nope\.jsonl: no such file"):
        check_sources([tmp_path / "nope.jsonl"])


def test_duplicates_across_files_merge_by_title_or_id_and_say_where_the_first_is(tmp_path):
    a, b, c = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.jsonl"
    a.write_text("Same Title\nFirst abstract.\n")
    b.write_text("same   title!\nSecond abstract.\n")
    c.write_text(json.dumps({"id": "x1", "title": "One", "abstract": "A."}) + "\n"
                 + json.dumps({"id": "x1", "title": "Other title", "abstract": "B."}) + "\n")
    papers, skips = _records([a, b, c])
    assert [p.abstract for p in papers] == ["First abstract.", "A."]
    assert [(s.kind, s.reason) for s in skips] == [("duplicate", f"same title as {a}:1"),
                                                   ("duplicate", f"same id as {c}:1")]


def test_arxiv_records_that_share_a_title_are_all_kept_and_only_a_repeated_id_is_a_duplicate(tmp_path):
    f = tmp_path / "arxiv.jsonl"
    rows = [("2301.00001", "Erratum", "Corrects Table 2 of the lattice paper."),
            ("2302.00002", "Erratum", "Corrects the proof of Lemma 3 on sparse graphs."),
            ("2303.00003", "Reply to Comment", "We answer the comment on our spin-glass result."),
            ("2304.00004", "reply to  comment!", "We answer the comment on our dark-matter bound."),
            ("2301.00001", "Erratum", "The same record again, later in the file.")]
    f.write_text("".join(json.dumps({**ARXIV, "id": i, "title": t, "abstract": a}) + "\n" for i, t, a in rows))
    papers, skips = _records([f])
    assert [p.paper_id for p in papers] == ["2301.00001", "2302.00002", "2303.00003", "2304.00004"]
    assert [(s.kind, s.reason) for s in skips] == [("duplicate", f"same id as {f}:1")]


def test_records_without_ids_still_merge_by_title_but_not_with_records_that_have_one(tmp_path):
    f = tmp_path / "mixed.jsonl"
    rows = [{"title": "Deep Sets", "abstract": "A."}, {"title": "deep   sets", "abstract": "B."},
            {"id": "1703.06114", "title": "Deep Sets", "abstract": "C."}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    papers, skips = _records([f])
    assert [p.abstract for p in papers] == ["A.", "C."]
    assert [(s.kind, s.reason) for s in skips] == [("duplicate", f"same title as {f}:1")]


def test_folder_is_read_recursively_in_every_format(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "x.txt").write_text("T\nA.\n")
    (tmp_path / "y.bib").write_text("@misc{k, title={B}, abstract={Bib abstract.}}\n")
    (tmp_path / "z.csv").write_text("title,abstract\nC,Csv abstract.\n")
    (tmp_path / "ignored.md").write_text("not a corpus file")
    assert sorted(p.title for p in load_corpus([tmp_path])) == ["B", "C", "T"]


def test_a_file_named_twice_is_read_once(tmp_path):
    (tmp_path / "x.txt").write_text("T\nA.\n")
    papers, skips = _records([tmp_path / "x.txt", tmp_path, tmp_path / "x.txt"])
    assert [p.title for p in papers] == ["T"] and skips == []


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="folder holds no"):
        check_sources([tmp_path])


def test_parsers_take_text_too():
    papers = list(parse_plain("T1\nA1\n\nT2\nA2\n"))
    assert [(p.title, p.abstract) for p in papers] == [("T1", "A1"), ("T2", "A2")]
    assert [type(r).__name__ for r in parse_text('{"title": "T"}\n', "jsonl")] == ["Skip"]
    assert bundled_corpus().exists()
