"""eval.harness with a fake ask function: files, contract keys, resume, filters, errors, bad question files."""
import json
from pathlib import Path

import pytest

from eval.harness import load_questions, run_eval
from eval.metrics import SUMMARY_KEYS
from eval.report import write_comparison
from rag.errors import InputError, RagError
from rag.text import CANNOT_ANSWER
from rag.types import Answer, Citation, Hit, Paper

ROOT = Path(__file__).resolve().parents[2]
CONTRACT_KEYS = ("n", "recall_at_5", "mrr", "citation_precision", "citation_recall", "keyword_accuracy",
                 "abstention_precision", "abstention_recall", "supported_rate", "latency_p50_s",
                 "latency_p95_s", "first_token_p50_s")
ANSWER_KEYS = ("question", "answer", "abstained", "citations", "sources", "timings", "model")

QUESTIONS = [
    {"id": "t1", "type": "factoid", "question": "How many images in 3DIEBench?",
     "gold_titles": ["Paper A"], "answer_keywords": ["2.5 million"]},
    {"id": "t2", "type": "paraphrase", "question": "How big is the rotated-objects dataset?",
     "gold_titles": ["Paper A"], "answer_keywords": ["2.5 million"]},
    {"id": "t3", "type": "multi", "question": "Which papers use hyperbolic space?",
     "gold_titles": ["Paper B", "Paper C"], "answer_keywords": ["hyperbolic"]},
    {"id": "t4", "type": "summary", "question": "Summarize hyperbolic embeddings.",
     "gold_titles": ["Paper B", "Paper C"], "answer_keywords": []},
    {"id": "t5", "type": "unanswerable", "question": "What does GPT-9 score on MMLU?",
     "gold_titles": [], "answer_keywords": []},
    {"id": "t6", "type": "followup", "question": "How many images does it have?",
     "history": [{"role": "user", "content": "Tell me about 3DIEBench."},
                 {"role": "assistant", "content": "It is a dataset [1]."}],
     "gold_titles": ["Paper A"], "answer_keywords": ["2.5 million"]},
]
GOLD = {q["question"]: q for q in QUESTIONS}


def paper(title: str) -> Paper:
    return Paper(paper_id=title.lower().replace(" ", "-"), title=title, abstract=f"{title} abstract.")


def fake_answer(question: str, text: str | None = None) -> Answer:
    """Retrieves the gold papers (then a distractor); cites the first; abstains on unanswerable."""
    q = GOLD[question]
    hits = [Hit(paper(t), [f"{t} passage"], 1.0 - i / 10) for i, t in enumerate(q["gold_titles"] + ["Paper Z"])]
    if q["type"] == "unanswerable":
        return Answer(question, CANNOT_ANSWER, True, [], hits, {"retrieve_s": 0.01, "total_s": 0.1,
                                                                 "first_token_s": 0.1}, {"generator": "fake"})
    cites = [Citation(1, hits[0].paper.paper_id, hits[0].paper.title, True, "quote")]
    return Answer(question, text or "It has 2.5 million hyperbolic images [1].", False, cites, hits,
                  {"retrieve_s": 0.01, "first_token_s": 0.2, "total_s": 0.5}, {"generator": "fake"})


class FakeAsk:
    def __init__(self, fail_on: str = ""):
        self.calls: list[tuple[str, list]] = []
        self.fail_on = fail_on

    def __call__(self, question, history):
        self.calls.append((question, history))
        if self.fail_on and self.fail_on in question:
            raise InputError("the question is too long")
        return fake_answer(question)


@pytest.fixture
def qfile(tmp_path):
    path = tmp_path / "questions.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in QUESTIONS), encoding="utf-8")
    return path


def results(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def test_writes_every_file_with_contract_keys(qfile, tmp_path):
    out = tmp_path / "run"
    ask = FakeAsk()
    summary = run_eval(ask, load_questions(qfile), out, progress=False)
    assert {p.name for p in out.iterdir()} >= {"results.jsonl", "summary.json", "report.md"}
    assert list(out.glob("*.png"))
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["n"] == summary["n"] == 6
    for key in CONTRACT_KEYS:
        assert key in on_disk
    assert set(on_disk["by_type"]) == {q["type"] for q in QUESTIONS}
    for metrics in on_disk["by_type"].values():
        for key in CONTRACT_KEYS:
            assert key in metrics
        assert set(SUMMARY_KEYS) <= set(metrics)
    rows = results(out)
    assert [r["id"] for r in rows] == [q["id"] for q in QUESTIONS]
    for r in rows:
        for key in (*ANSWER_KEYS, "id", "type", "gold_titles", "answer_keywords", "scores"):
            assert key in r
    assert on_disk["recall_at_5"] == 1.0 and on_disk["abstention_recall"] == 1.0
    assert on_disk["by_type"]["multi"]["citation_recall"] == 0.5
    assert on_disk["by_type"]["summary"]["keyword_accuracy"] is None     # no keywords to check
    # the follow-up got its history; summary went through ask since no summarize was given
    assert ask.calls[-1][1] == QUESTIONS[-1]["history"]
    assert len(ask.calls) == 6
    report = (out / "report.md").read_text()
    assert "## By question type" in report and "Failures" in report


def test_summary_questions_use_summarize(qfile, tmp_path):
    topics = []

    def summarize(topic):
        topics.append(topic)
        return fake_answer(topic)

    ask = FakeAsk()
    run_eval(ask, load_questions(qfile), tmp_path / "run", summarize=summarize, progress=False)
    assert topics == ["Summarize hyperbolic embeddings."]
    assert len(ask.calls) == 5


def test_resume_skips_done_ids(qfile, tmp_path):
    out = tmp_path / "run"
    questions = load_questions(qfile)
    run_eval(FakeAsk(), questions, out, limit=3, progress=False)
    with (out / "results.jsonl").open("a") as f:
        f.write('{"id": "t4", "answ')          # a run killed mid-line
    ask = FakeAsk()
    summary = run_eval(ask, questions, out, progress=False)
    assert [c[0] for c in ask.calls] == [q["question"] for q in questions[3:]]
    assert summary["n"] == 6
    assert [r["id"] for r in results(out)] == [q["id"] for q in questions]
    again = FakeAsk()
    run_eval(again, questions, out, progress=False)
    assert again.calls == []


def test_limit_and_types(qfile, tmp_path):
    questions = load_questions(qfile)
    s = run_eval(FakeAsk(), questions, tmp_path / "a", limit=2, progress=False)
    assert s["n"] == 2 and set(s["by_type"]) == {"factoid", "paraphrase"}
    s = run_eval(FakeAsk(), questions, tmp_path / "b", types=["followup", "unanswerable"], progress=False)
    assert s["n"] == 2 and set(s["by_type"]) == {"unanswerable", "followup"}
    with pytest.raises(RagError, match="unknown question type"):
        run_eval(FakeAsk(), questions, tmp_path / "c", types=["factoids"], progress=False)


def test_rag_error_becomes_an_error_row(qfile, tmp_path):
    out = tmp_path / "run"
    summary = run_eval(FakeAsk(fail_on="rotated"), load_questions(qfile), out, progress=False)
    assert summary["errors"] == 1 and summary["n"] == 6
    row = next(r for r in results(out) if r["id"] == "t2")
    assert row["error"].startswith("InputError") and row["sources"] == []
    assert summary["by_type"]["paraphrase"]["recall_at_5"] == 0.0
    assert "`t2`" in (out / "report.md").read_text()


def test_wrong_and_missed_refusals_are_listed(qfile, tmp_path):
    def ask(question, history):
        if "GPT-9" in question:      # answers an unanswerable question
            a = fake_answer("How many images in 3DIEBench?")
            a.question = question
            return a
        if "rotated" in question:    # refuses an answerable one
            a = fake_answer(question)
            a.abstained, a.answer, a.citations = True, CANNOT_ANSWER, []
            return a
        return fake_answer(question)

    out = tmp_path / "run"
    s = run_eval(ask, load_questions(qfile), out, progress=False)
    assert s["abstention_recall"] == 0.0 and s["answerable_refusal_rate"] == pytest.approx(0.2)
    report = (out / "report.md").read_text()
    wrong = report.split("### Wrong refusals")[1].split("###")[0]
    missed = report.split("### Missed refusals")[1].split("###")[0]
    assert "`t2`" in wrong and "`t5`" in missed


def test_comparison_report(qfile, tmp_path):
    questions = load_questions(qfile)
    ours = run_eval(FakeAsk(), questions, tmp_path / "ours", progress=False)
    base = run_eval(FakeAsk(), questions, tmp_path / "base", progress=False)
    retrieval = {k: {"n": 5, "recall_at_5": 0.8, "mrr": 0.7} for k in ("dense", "bm25", "hybrid")}
    text = write_comparison(ours, base, retrieval, tmp_path / "comparison.md").read_text()
    assert "| recall@5 | 100% | 100% |" in text and "hybrid" in text and "followup" in text


@pytest.mark.parametrize("line, message", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"id": "x1", "type": "factoid", "question": "Q?", "gold_titles": ["A"]}', "missing key 'answer_keywords'"),
    ('{"id": "x1", "type": "factoid", "question": "Q?", "gold_titles": "A", "answer_keywords": []}',
     "'gold_titles' must be a list"),
    ('{"id": "x1", "type": "trivia", "question": "Q?", "gold_titles": [], "answer_keywords": []}', "unknown type"),
    ('{"id": "x1", "type": "factoid", "question": "Q?", "gold_titles": ["A"], "answer_keywords": [], '
     '"history": [{"role": "user", "content": "hi"}]}', "only allowed on type 'followup'"),
    ('{"id": "x1", "type": "followup", "question": "Q?", "gold_titles": ["A"], "answer_keywords": []}',
     "needs a non-empty 'history'"),
    ('{"id": "x1", "type": "unanswerable", "question": "Q?", "gold_titles": ["A"], "answer_keywords": []}',
     "unanswerable question has empty"),
    ('{"id": "t1", "type": "factoid", "question": "Q?", "gold_titles": ["A"], "answer_keywords": []}',
     "duplicate id 't1'"),
])
def test_malformed_question_file_names_the_line(tmp_path, line, message):
    path = tmp_path / "bad.jsonl"
    good = [json.dumps(q) for q in QUESTIONS[:2]]
    path.write_text("\n".join([good[0], "", good[1], line]) + "\n", encoding="utf-8")
    with pytest.raises(RagError) as err:
        load_questions(path)
    text = str(err.value)
    assert text.startswith(f"{path}:4: ") and message in text and "\n" not in text


def test_missing_and_empty_question_files(tmp_path):
    with pytest.raises(RagError, match="no such questions file"):
        load_questions(tmp_path / "nope.jsonl")
    (tmp_path / "empty.jsonl").write_text("\n")
    with pytest.raises(RagError, match="no questions"):
        load_questions(tmp_path / "empty.jsonl")


def test_dev_set_loads():
    questions = load_questions(ROOT / "eval" / "questions.jsonl")
    assert len(questions) >= 60


def test_main_eval_runs_both_pipelines_with_fakes(tmp_path, capsys):
    """`rag eval --pipeline both` end to end over a 6-paper store, with no model."""
    import argparse

    from eval.cli import main_eval
    from rag.build import Parts
    from rag.corpus import load_corpus
    from rag.embed import HashEmbedder
    from rag.generators.base import FakeGenerator
    from rag.ingest import ingest
    from rag.settings import Settings
    from rag.store import ChromaStore, open_client

    papers = load_corpus()[:6]
    embedder = HashEmbedder()
    client = open_client(tmp_path / "chroma")
    store = ChromaStore(client, "papers", embedder_name=embedder.name)
    ingest(papers, store, embedder, progress=False)
    questions = [
        {"id": "m1", "type": "factoid", "question": f"What does {papers[0].title} find?",
         "gold_titles": [papers[0].title], "answer_keywords": []},
        {"id": "m2", "type": "unanswerable", "question": "Which recipe uses saffron and cardamom?",
         "gold_titles": [], "answer_keywords": []},
    ]
    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps(q) + "\n" for q in questions))
    settings = Settings(home=tmp_path)
    args = argparse.Namespace(questions=str(qfile), out=str(tmp_path / "out"), limit=None, types=None,
                              pipeline="both")
    generator = FakeGenerator(lambda messages: f"{papers[0].abstract.split('. ')[0]} [1].")
    assert main_eval(args, settings=settings, parts=Parts(settings, embedder, store, client),
                     generator=generator) == 0
    out = tmp_path / "out"
    for name in ("ours", "baseline"):
        summary = json.loads((out / name / "summary.json").read_text())
        assert summary["n"] == 2 and set(summary["retrieval"]) == {"dense", "bm25", "hybrid"}
        assert summary["retrieval"]["hybrid"]["n"] == 1
        assert (out / name / "report.md").exists() and list((out / name).glob("*.png"))
    assert "| recall@5 |" in (out / "comparison.md").read_text()
    printed = capsys.readouterr().out
    assert "ours" in printed and "baseline" in printed and "retrieval recall@5" in printed
