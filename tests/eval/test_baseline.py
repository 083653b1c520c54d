"""rag.baseline: the plain LlamaIndex CitationQueryEngine over our store, with fakes (no model)."""
import pytest

from eval.baseline import BaselinePipeline, is_refusal
from rag.answer.citations import SupportChecker
from rag.corpus import load_corpus
from rag.embed import HashEmbedder
from rag.generators.base import FakeGenerator
from rag.ingest import ingest
from rag.text import CANNOT_ANSWER
from rag.store import ChromaStore, open_client
from rag.types import Answer


@pytest.fixture(scope="module")
def store_and_papers(tmp_path_factory):
    papers = load_corpus()[:5]
    embedder = HashEmbedder()
    store = ChromaStore(open_client(tmp_path_factory.mktemp("chroma")), "papers", embedder_name=embedder.name)
    ingest(papers, store, embedder, progress=False)
    return store, embedder, papers


def make(store_and_papers, replies):
    store, embedder, _ = store_and_papers
    generator = FakeGenerator(replies)
    return BaselinePipeline(store, embedder, generator, checker=SupportChecker(embedder)), generator


def test_answer_with_sources_and_parsed_citations(store_and_papers):
    _, _, papers = store_and_papers
    target = papers[3]
    first_sentence = target.abstract.split(". ")[0]
    baseline, generator = make(store_and_papers, [f"{first_sentence} [1]. It beats everything by 91.4% [2][9]."])
    answer = baseline.ask(f"{target.title}: what do they propose?")
    assert isinstance(answer, Answer) and not answer.abstained
    titles = [h.paper.title for h in answer.sources]
    assert titles[0] == target.title and len(titles) == len(set(titles)) <= 5
    assert [h.score for h in answer.sources] == sorted((h.score for h in answer.sources), reverse=True)
    assert [c.marker for c in answer.citations] == [1, 2, 9]
    one, two, nine = answer.citations
    assert one.title == target.title and one.supported and one.quote
    assert not two.supported                                   # an invented number
    assert nine.paper_id == "" and not nine.supported          # points at no source
    assert set(answer.timings) >= {"retrieve_s", "first_token_s", "total_s"}
    assert answer.to_json()["model"]["embedder"] == "hash-embedder"
    # the engine's prompt went to our generator as one user message, with numbered sources
    (messages,) = generator.calls
    assert len(messages) == 1 and messages[0]["role"] == "user" and "Source 1:" in messages[0]["content"]


def test_stream_yields_text_then_answer(store_and_papers):
    baseline, _ = make(store_and_papers, ["Poincaré balls embed trees [1]."])
    items = list(baseline.stream("hyperbolic embeddings of hierarchies"))
    assert isinstance(items[-1], Answer)
    assert "".join(items[:-1]).strip() == items[-1].answer


def test_history_is_prepended_to_the_query(store_and_papers):
    baseline, _ = make(store_and_papers, ["They use Lie groups [1]."])
    history = [{"role": "user", "content": "Lie group decompositions for equivariant networks"},
               {"role": "assistant", "content": "That paper ..."}]
    answer = baseline.ask("what do they show?", history=history)
    assert answer.query.startswith("Lie group decompositions") and answer.question == "what do they show?"
    assert answer.sources[0].paper.title == "Lie Group Decompositions for Equivariant Neural Networks"


@pytest.mark.parametrize("reply", [CANNOT_ANSWER, "The sources do not provide information about GPT-9.",
                                   "None of the sources are helpful for this query.",
                                   "I cannot answer this question from the sources.", ""])
def test_refusals_are_detected(store_and_papers, reply):
    assert is_refusal(reply)
    baseline, _ = make(store_and_papers, [reply])
    answer = baseline.ask("What does GPT-9 score on MMLU?")
    assert answer.abstained and answer.citations == []


def test_an_answer_with_a_later_caveat_is_not_a_refusal():
    assert not is_refusal("It reaches 80.3% top-1 [1]. The training cost is not mentioned.")


def test_never_touches_llama_index_global_settings(store_and_papers):
    from llama_index.core import Settings

    make(store_and_papers, ["x [1]."])[0].ask("anything about image classifiers")
    assert Settings._llm is None and Settings._embed_model is None
