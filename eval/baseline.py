"""The plain pipeline a user would build first: LlamaIndex VectorStoreIndex + CitationQueryEngine, top 5.

It runs over the same chunks and stored embeddings as our pipeline, with the same embedder and
generator, so a comparison measures only what our pipeline adds (hybrid retrieval, the evidence
gate, the prompt, citation checking). Its answers are measured the same way: markers "[n]" are
mapped to the engine's "Source n" nodes and checked with our SupportChecker, but never repaired.

llama-index is imported only when a BaselinePipeline is built; its global `Settings` is never
used (it falls back to a cloud LLM): `embed_model=` and `llm=` are always passed explicitly.
"""
from __future__ import annotations

import re
import time
from typing import Any, Iterator, Sequence

from rag.text import CANNOT_ANSWER, markers_in, split_sentences
from rag.types import Answer, Citation, Hit, Message, Paper

TOP_K = 5
# What a refusal looks like in a free-form reply (the engine's prompt asks to "indicate" unhelpful sources).
REFUSAL = re.compile(
    r"(do(es)? not (answer|provide|contain|mention|include|address|specify|discuss|state)"
    r"|cannot (answer|be answered|determine|find)|can't (answer|determine)|unable to (answer|determine|find)"
    r"|no (relevant )?information|not (enough|sufficient) information|none of the (provided )?sources"
    r"|(is|are) not (mentioned|provided|specified|stated|available|discussed)"
    r"|there is no (mention|information|source))", re.I)


def is_refusal(text: str) -> bool:
    """The reply opens by saying the sources do not answer (our exact phrase, or typical free-form wording).

    Only the first sentence is looked at, so an answer that adds "X is not mentioned" later still counts.
    """
    t = " ".join(text.split())
    if not t or CANNOT_ANSWER.lower() in t.lower():
        return True
    first = split_sentences(t)[0]
    return bool(REFUSAL.search(first))


def load_nodes(store) -> tuple[list, dict[str, Paper]]:
    """TextNodes (passage, stored embedding, title/paper_id metadata) of every chunk, and the papers."""
    from llama_index.core.schema import TextNode

    from rag.store import paper_from_metadata

    nodes, papers = [], {}
    for cid, doc, meta, embedding in store.iter_embedded_chunks():
        nodes.append(TextNode(id_=cid, text=doc, embedding=embedding,
                              metadata={"title": meta["title"], "paper_id": meta["paper_id"]}))
        if meta.get("abstract") or meta["paper_id"] not in papers:
            papers[meta["paper_id"]] = paper_from_metadata(meta)
    return nodes, papers


class BaselinePipeline:
    """VectorStoreIndex over our chunks + CitationQueryEngine (top 5), answering like `Pipeline`."""

    def __init__(self, store, embedder, generator, *, checker=None, top_k: int = TOP_K,
                 max_new_tokens: int = 160, context_window: int = 4096):
        from llama_index.core import VectorStoreIndex
        from llama_index.core.query_engine import CitationQueryEngine

        from eval.llama_adapters import EmbedderAdapter, GeneratorLLM

        self.generator, self.checker, self.top_k = generator, checker, top_k
        self.embed_model = EmbedderAdapter(embedder)
        self.llm = GeneratorLLM(generator, max_new_tokens=max_new_tokens, context_window=context_window)
        nodes, self.papers = load_nodes(store)
        self.index = VectorStoreIndex(nodes, embed_model=self.embed_model, show_progress=False)
        self.engine = CitationQueryEngine.from_args(self.index, llm=self.llm, similarity_top_k=top_k,
                                                    streaming=True)
        self.model_info = {"generator": getattr(generator, "name", type(generator).__name__) + " (baseline)",
                           "embedder": getattr(embedder, "name", "")}

    def _paper(self, meta: dict) -> Paper:
        pid = meta.get("paper_id", "")
        return self.papers.get(pid) or Paper(paper_id=pid, title=meta.get("title", ""), abstract="")

    def _hits(self, nodes) -> list[Hit]:
        """One Hit per paper, best first, from the retrieved nodes."""
        hits: dict[str, Hit] = {}
        for n in sorted(nodes, key=lambda n: -(n.score or 0.0)):
            paper = self._paper(n.node.metadata)
            if paper.paper_id not in hits:
                hits[paper.paper_id] = Hit(paper=paper, passages=[n.node.get_content()], score=float(n.score or 0.0),
                                           dense=float(n.score or 0.0))
        return list(hits.values())

    def _citations(self, text: str, source_nodes) -> list[Citation]:
        """One Citation per distinct marker; marker n is the engine's "Source n" node."""
        sentences = split_sentences(text)
        out = []
        for n in markers_in(text):
            if not 1 <= n <= len(source_nodes):
                out.append(Citation(marker=n, paper_id="", title="", supported=False, quote=""))
                continue
            paper = self._paper(source_nodes[n - 1].node.metadata)
            citing = [s for s in sentences if n in markers_in(s)] or [text]
            supported, quote, score = True, "", 0.0
            if self.checker is None or not paper.abstract:
                supported = False
            else:
                for s in citing:
                    sup = self.checker.support(s, paper)
                    supported = supported and sup.score >= self.checker.threshold
                    if sup.score >= score:
                        quote, score = sup.quote, sup.score
            out.append(Citation(marker=n, paper_id=paper.paper_id, title=paper.title, supported=supported,
                                quote=quote, score=score))
        return out

    def stream(self, question: str, *, history: Sequence[Message] | None = None, **_: Any) -> Iterator[str | Answer]:
        """Yield the reply's text pieces as generated, then the `Answer` last."""
        from llama_index.core.schema import QueryBundle

        t0 = time.perf_counter()
        question = " ".join(str(question).split())
        last_user = next((m["content"] for m in reversed(history or []) if m.get("role") == "user"), "")
        query = f"{last_user.strip()} {question}".strip()   # the naive way to carry a conversation
        bundle = QueryBundle(query)
        nodes = self.engine.retrieve(bundle)
        timings = {"retrieve_s": time.perf_counter() - t0}
        response = self.engine.synthesize(bundle, nodes)
        pieces: list[str] = []
        gen = getattr(response, "response_gen", None)
        for piece in (gen if gen is not None else [str(response.response or "")]):
            if not pieces:
                timings["first_token_s"] = time.perf_counter() - t0
            pieces.append(piece)
            yield piece
        text = "".join(pieces).strip()
        citations = self._citations(text, response.source_nodes)
        timings.setdefault("first_token_s", time.perf_counter() - t0)
        timings["total_s"] = time.perf_counter() - t0
        yield Answer(question=question, answer=text, abstained=is_refusal(text), citations=citations,
                     sources=self._hits(nodes), timings=timings, model=self.model_info, query=query)

    def ask(self, question: str, history: Sequence[Message] | None = None, **kw: Any) -> Answer:
        """The whole answer at once."""
        answer = None
        for item in self.stream(question, history=history, **kw):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer
