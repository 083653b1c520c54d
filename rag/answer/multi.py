"""A question about several papers ("Which papers ..., and what does each propose?", "How do A and B differ?"):
select every relevant paper (the summaries' relevance cut-off, or the papers the question names), then one
short third-person sentence per paper from a one-paper prompt, checked like any answer sentence; a paper whose
sentence fails keeps its best abstract sentence, rewritten. Streams paper by paper."""
from __future__ import annotations

import re
import time
from typing import Callable, Iterator, Sequence

from rag.answer.citations import SupportChecker
from rag.answer.grounding import key_terms, mentions, ungrounded_names
from rag.answer.parts import split_parts
from rag.answer.policy import is_cannot_answer
from rag.answer.prompt import format_sources, load_template
from rag.answer.selection import apply_cutoff, paper_evidence
from rag.answer.verify import Verifier
from rag.generators.base import Generator
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.text import CANNOT_ANSWER, complete_sentences, split_sentences, states_contribution
from rag.types import AbstainReason, Hit, Message, PaperEvidence, Summary


class MultiAnswer:
    """Answers a question about several papers with one checked sentence per relevant paper."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, settings: Settings,
                 model_info: dict[str, str]):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.config, self.policy, self.model_info = settings.multi, settings.policy, model_info

    def select(self, question: str, where: dict | None) -> tuple[list[Hit], list[Hit]]:
        """(papers, left out): the papers the question names, if it names two or more; else every paper past
        the relevance cut-off for its first part."""
        named = self._named(question, where)
        if len(named) >= 2:
            return named[:self.config.max_papers], []
        query = about_query(question)
        vector = self.checker.embedder.embed([query])[0]
        pool = self.retriever.retrieve(query, self.config.pool, where=where, vector=vector)
        if pool:
            best = max(h.score for h in pool)
            self.checker.prefetch([h.paper for h in pool if h.score >= self.config.min_relative * best])
        return apply_cutoff(pool, self.config, support=lambda h: self.checker.support(query, h.paper, vector).score)

    def _named(self, question: str, where: dict | None) -> list[Hit]:
        """For each name of the question ("SIE", "MERU"), the best paper that mentions it."""
        out: dict[str, Hit] = {}
        for term in (t for t in key_terms(question) if t.name):
            for hit in self.retriever.retrieve(term.text, self.policy.name_search, where=where, rankings=("bm25",)):
                if mentions(term, hit.paper):
                    out.setdefault(hit.paper.paper_id, hit)
                    break
        return list(out.values())

    def stream(self, question: str, *, where: dict | None,
               otherwise: Callable[[], Iterator] | None = None) -> Iterator[str | Summary]:
        """Yield each paper's checked sentence as it is ready, then the Summary-shaped answer. When no paper
        passes the cut-off, the question is answered by `otherwise` (the single-paper path), if given."""
        t0 = time.perf_counter()
        timings: dict[str, float] = {}
        missing, why = ungrounded_names(key_terms(question), lambda t: [h.paper for h in self.retriever.retrieve(
            t.text, self.policy.name_search, where=where, rankings=("bm25",))], together=False)
        kept, left_out = ([], []) if missing else self.select(question, where)
        timings["retrieve_s"] = time.perf_counter() - t0
        if not kept and not missing and otherwise is not None:
            yield from otherwise()
            return
        if not kept:
            text = f"{CANNOT_ANSWER} {why}".strip() if missing else CANNOT_ANSWER
            yield text
            yield self._result(question, text, [], left_out, timings, t0, abstained=True, missing=missing)
            return
        vector = self.checker.embedder.embed([question])[0]
        papers = [paper_evidence(i, question, h, self.checker, vector, self.config) for i, h in enumerate(kept, 1)]
        verifier = Verifier(question, [question], kept, self.checker)
        for p in papers:
            sentence = self.paper_sentence(question, p, verifier, timings, t0)
            if sentence:
                timings.setdefault("first_sentence_s", time.perf_counter() - t0)
                yield sentence if len(verifier.shown) == 1 else " " + sentence
        yield self._result(question, verifier.text, papers, left_out, timings, t0, verifier=verifier)

    def paper_sentence(self, question: str, p: PaperEvidence, verifier: Verifier, timings: dict, t0: float) -> str:
        """The model's one sentence about paper p, checked, if it names the paper's method when the paper names
        one ("We propose MERU"); else that "We propose" sentence, or the paper's best sentence, rewritten."""
        draft = self._draft(question, p, timings, t0)
        name = method_name(p)
        if name and name.lower() not in draft.lower():
            draft = ""
        before, shown = len(verifier.shown), []
        for candidate in (draft, self._fallback(p)):
            shown += verifier.check(candidate) if candidate else []
            if any(p.marker in s.markers for s in verifier.shown[before:]):
                break
        return " ".join(shown)

    def _draft(self, question: str, p: PaperEvidence, timings: dict, t0: float) -> str:
        hit = Hit(paper=p.hit.paper, passages=[" ".join(p.quotes)], score=p.hit.score)
        user = load_template("multi_paper").format(sources=format_sources([hit]), question=question)
        messages: list[Message] = [{"role": "system", "content": load_template("answer_system").strip()},
                                   {"role": "user", "content": user.strip()}]
        pieces = []
        for token in self.generator.stream(messages, max_new_tokens=self.config.sentence_tokens):
            timings.setdefault("first_token_s", time.perf_counter() - t0)
            pieces.append(token)
            done, _ = complete_sentences("".join(pieces))
            if done:
                break                   # one sentence is all it is asked for
        text = "".join(pieces).strip()
        if not text or is_cannot_answer(text):
            return ""
        first = (complete_sentences(text + "\n")[0] or [text])[0]
        return first.replace("[1]", f"[{p.marker}]")

    def _fallback(self, p: PaperEvidence) -> str:
        """The paper's sentence on the question if it names the method; else its "We propose <name>" sentence."""
        best, name = p.best, method_name(p)
        if name and name not in best:
            best = next((q for q in self.checker.sentences(p.hit.paper) if name in q and states_contribution(q)), best)
        return f"{best.rstrip('.!? ')} [{p.marker}]."


    def _result(self, question: str, text: str, papers: list[PaperEvidence], left_out: Sequence[Hit],
                timings: dict, t0: float, *, abstained: bool = False, missing=(), verifier: Verifier | None = None
                ) -> Summary:
        timings["total_s"] = time.perf_counter() - t0
        for key in ("first_token_s", "first_sentence_s"):
            timings.setdefault(key, timings["total_s"])
        return Summary(question=question, answer=text, abstained=abstained,
                       citations=verifier.citation_list() if verifier else [], sources=[p.hit for p in papers],
                       timings=timings, model=self.model_info, query=question, related=list(left_out)[:3],
                       abstain_reason=AbstainReason.UNGROUNDED if missing else (
                           AbstainReason.NO_RELEVANT_PAPER if abstained else None),
                       missing_terms=[t.text for t in missing], route="multi", papers=papers, left_out=list(left_out),
                       contribution_words=self.config.contribution_words)


_SCAFFOLD = re.compile(r"^\s*(?:which|what)\s+(?:other\s+)?(?:papers|works|studies|articles|publications)\s+"
                       r"(?:in\s+the\s+collection\s+)?", re.I)


def about_query(question: str) -> str:
    """What the papers are to be about: the question's first ask without "Which papers"."""
    first = split_parts(question)[0]
    return _SCAFFOLD.sub("", first).strip() or first


def method_name(p: PaperEvidence) -> str:
    """The name a paper gives its contribution ("We propose MERU, ..." -> "MERU"), or ""."""
    for sentence in (q for q in [p.best, *p.quotes, *split_sentences(p.hit.paper.abstract)] if states_contribution(q)):
        found = re.search(r"\b(?:propose|introduce|present|develop|design|call)\w*\s+(?:\w+\s+){0,8}?"
                          r"\(?([A-Z][\w\-]*[A-Z0-9][\w\-]*)\)?", sentence)
        found = found or re.search(r"\b(?:propose|introduce|present|call)\w*\s+([A-Z][\w\-]+)(?=,|\s+\()", sentence)
        if found:
            return found.group(1)
    return ""
