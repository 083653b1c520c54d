"""A question about one paper, step by step over plain data:

retrieve (the follow-up's earlier paper pinned first) -> gate (refuse before generating: a filter that matches
nothing, nothing on topic, a name no paper mentions) -> context (whole abstracts of the few papers the scores
single out) -> prompt -> generate, each sentence checked as it completes and shown only if it passes
(rag.answer.verify) -> parts the model missed answered from the abstracts, or named -> Answer.
"""
from __future__ import annotations

import re
import time
from typing import Iterator, Sequence

from rag.answer.citations import SupportChecker
from rag.answer.conversation import cited_papers, earlier_papers, question_about, referent
from rag.answer.grounding import key_terms, topic_conflicts, ungrounded_names
from rag.answer.outcome import (Refusal, Retrieved, checked_answer, names_a_paper, refusal_answer, title_citation,
                                why_nothing)
from rag.answer.parts import split_parts
from rag.answer.policy import is_cannot_answer, retrieval_evidence, weak_evidence
from rag.answer.prompt import build_messages, format_sources, load_template
from rag.answer.verify import Verifier, extract_for
from rag.condense import standalone_query
from rag.filters import describe
from rag.generators.base import Generator
from rag.retrieve import HybridRetriever
from rag.settings import Settings
from rag.text import CANNOT_ANSWER, complete_sentences, content_words, names_in, numbers_in, states_contribution
from rag.types import AbstainReason, Answer, CheckedSentence, Hit, Message, Paper

_IDENTIFY = re.compile(r"^\s*(?:(?:which|what)\s+(?:\w+\s+){0,2}?(?:paper|work|study|method|model|approach|technique|"
                       r"framework|dataset|benchmark|architecture|algorithm|system|tokenizer|loss)s?\b|is\s+there\b|"
                       r"can\s+you\s+(?:find|name)\b)", re.I)




class SingleAnswer:
    """Answers a question from the one or few papers that bear on it."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, settings: Settings,
                 model_info: dict[str, str]):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.settings, self.policy, self.model_info = settings, settings.policy, model_info

    # -- retrieval -------------------------------------------------------------------------------------------
    def retrieve(self, question: str, history: Sequence[Message], top_k: int, where: dict | None) -> Retrieved:
        """Condense the follow-up, embed the query once, retrieve; an earlier paper the question refers to first."""
        t0 = time.perf_counter()
        query = standalone_query(question, history)
        vector = self.checker.embedder.embed([query])[0]
        hits = self.retriever.retrieve(query, top_k, where=where, vector=vector)
        about = referent(question, earlier_papers(history, lambda turn: cited_papers(turn, self.retriever, self.checker)),
                         self._fit(question))
        if about is not None:
            top = max((h.score for h in hits), default=1.0)
            own = next((h for h in hits if h.paper.paper_id == about.paper_id), None)
            pinned = Hit(paper=about, passages=own.passages if own else [about.abstract], score=top,
                         dense=own.dense if own else 0.0, bm25=own.bm25 if own else 0.0)
            hits = [pinned] + [h for h in hits if h.paper.paper_id != about.paper_id][:max(top_k - 1, 0)]
        evidence = retrieval_evidence(query, hits, self.retriever.bm25, self.policy)
        return Retrieved(question, query, vector, hits, evidence, where=where, about=about, t0=t0,
                         timings={"retrieve_s": time.perf_counter() - t0})

    def _fit(self, question: str):
        vector = self.checker.embedder.embed([question])[0]
        return lambda paper: max(self.checker.rank_sentences(question, paper, vector), default=0.0)

    # -- before generating -----------------------------------------------------------------------------------
    def gate(self, r: Retrieved) -> Refusal | None:
        """Refuse before generating when nothing retrieved can answer; an ask that names what no paper mentions
        is set aside with a note, and when every ask is, the question is refused with the reason."""
        if r.where and not r.hits:
            return Refusal(AbstainReason.FILTER_MATCHES_NOTHING,
                           f"{CANNOT_ANSWER} No paper in the collection matches the filter ({describe(r.where)}).")
        if not r.hits or not content_words(r.query):
            return Refusal(AbstainReason.WEAK_EVIDENCE)
        found = " ".join(self.checker.evidence_text(h.paper) for h in r.hits)
        refusals = []
        for part in split_parts(r.question):
            refusal = self._ungrounded(part, r, found)
            if refusal is None:
                r.parts.append(part)
            else:
                refusals.append(refusal)
                r.notes.append(f'{refusal.text.removeprefix(CANNOT_ANSWER).strip()[:-1]}, so "{part}" is not answered')
        if not r.parts:
            missing = [t for x in refusals for t in x.missing]
            return Refusal(refusals[0].reason, " ".join([CANNOT_ANSWER] + [x.text.removeprefix(CANNOT_ANSWER).strip()
                                                                           for x in refusals]), missing)
        if r.about is None and weak_evidence(r.evidence, self.policy):
            return Refusal(AbstainReason.WEAK_EVIDENCE)
        return None if r.about is not None else self._conflict(r)

    def _conflict(self, r: Retrieved) -> Refusal | None:
        """A topic of the question that another paper is about and the best paper is not (rag.answer.grounding)."""
        phrases = [t for part in r.parts for t in key_terms(part) if not t.name]
        if not phrases:
            return None
        vectors = dict(zip((t.text for t in phrases), self.checker.embedder.embed([t.text for t in phrases])))
        fit = lambda t, p: max(self.checker.rank_sentences(t.text, p, vectors[t.text], overlap=False), default=0.0)
        others = lambda t: [h.paper for h in self.retriever.retrieve(t.text, 5, where=r.where, vector=vectors[t.text])]
        anchor = r.hits[0].paper
        found = topic_conflicts(phrases, anchor, fit, others, min_fit=self.policy.conflict_fit,
                                min_gap=self.policy.conflict_gap)
        if not found:
            return None
        term, other = found[0]
        return Refusal(AbstainReason.UNGROUNDED, f"{CANNOT_ANSWER} The closest paper, \"{anchor.title}\", does not "
                       f"cover '{term.text}', which \"{other.title}\" is about; no paper joins the two.",
                       [t.text for t, _ in found])

    def _ungrounded(self, part: str, r: Retrieved, found: str) -> Refusal | None:
        """A name of the ask that no paper mentions (alone or together), or a number no retrieved paper has."""
        missing, why = ungrounded_names(key_terms(part), lambda t: self._papers_naming(t.text, r))
        if missing:
            return Refusal(AbstainReason.UNGROUNDED, f"{CANNOT_ANSWER} {why}", [t.text for t in missing])
        numbers = sorted(numbers_in(part) - numbers_in(found))
        if numbers:
            return Refusal(AbstainReason.QUESTION_NUMBER_MISSING, f"{CANNOT_ANSWER} No paper found mentions "
                           + " or ".join(f"'{n}'" for n in numbers) + ".", numbers)
        return None

    def _papers_naming(self, text: str, r: Retrieved) -> list[Paper]:
        found = self.retriever.retrieve(text, self.policy.name_search, where=r.where, rankings=("bm25",))
        return [h.paper for h in found] + [h.paper for h in r.hits]

    def context(self, r: Retrieved) -> list[Hit]:
        """Whole abstracts of the papers whose score is close to the best one's (the earlier paper first)."""
        top = r.hits[0].score
        kept = [h for i, h in enumerate(r.hits) if i == 0 or h.score >= self.policy.context_relative * top]
        return [Hit(paper=h.paper, passages=[h.paper.abstract or " ".join(h.passages)], score=h.score, dense=h.dense,
                    bm25=h.bm25) for h in kept[:self.policy.context_papers]]

    def messages(self, r: Retrieved, context: list[Hit], parts: list[str]) -> list[Message]:
        question = question_about(r.question, r.about)
        if len(parts) > 1:
            question += " Answer each part: " + " ".join(f"({i}) {p}" for i, p in enumerate(parts, 1))
        return build_messages(question, context)

    # -- generating, checked sentence by sentence ---------------------------------------------------------------
    def stream(self, question: str, history: Sequence[Message], *, top_k: int, max_new_tokens: int,
               where: dict | None) -> Iterator[str | Answer]:
        """Yield each checked sentence as soon as it passes (never taken back), then the Answer."""
        r = self.retrieve(question, history, top_k, where)
        refusal = self.gate(r)
        if refusal is not None:
            answer = refusal_answer(r, refusal, self.model_info, self.policy.evidence_papers)
            yield answer.answer
            yield answer
            return
        context = self.context(r)
        self.checker.prefetch([h.paper for h in context])
        verifier = Verifier(question, r.parts, context, self.checker)
        draft = yield from self.write(r, self.messages(r, context, verifier.parts), max_new_tokens, verifier)
        if not is_cannot_answer(draft):      # the model's own refusal stands
            if not verifier.shown:
                draft += "\n" + (yield from self.retry(r, context, verifier, max_new_tokens))
            yield from self.fill(r, verifier, context, draft)
        if not verifier.shown:
            why = " ".join([CANNOT_ANSWER] + [n + "." for n in r.notes])
            answer = refusal_answer(r, Refusal(why_nothing(draft, verifier), why), self.model_info,
                                    self.policy.evidence_papers, draft, verifier.rejections())
            yield answer.answer
            yield answer
            return
        notes = r.notes + [f'The papers here do not answer "{verifier.parts[i]}"' for i in verifier.unanswered()]
        if notes:
            yield " " + " ".join(n + "." for n in notes)
        yield checked_answer(r, verifier, context, draft, notes, self.model_info)

    def write(self, r: Retrieved, messages: list[Message], max_new_tokens: int, verifier: Verifier
              ) -> Iterator[str]:
        """Generate; show each sentence once it is complete and checked. Returns the model's whole draft."""
        pieces: list[str] = []
        pending = ""
        for token in self.generator.stream(messages, max_new_tokens=max_new_tokens):
            r.timings.setdefault("first_token_s", time.perf_counter() - r.t0)
            pieces.append(token)
            done, pending = complete_sentences(pending + token)
            for sentence in done:
                yield from self._show(r, verifier, sentence)
        yield from self._show(r, verifier, pending)
        return "".join(pieces).strip()

    def fill(self, r: Retrieved, verifier: Verifier, context: list[Hit], draft: str) -> Iterator[str]:
        """Once the model has answered something: a part it left unanswered gets the abstract sentence that
        answers it, if one is close. A "which paper" question gets the paper's "We propose <name>" sentence, or
        its title."""
        grounded = verifier.shown or any(why == "answers no part of the question" for _, why in verifier.rejected)
        for i in verifier.unanswered() if grounded else []:
            found = extract_for(verifier.parts[i], context, self.checker, min_score=self.policy.min_extractive)
            if found:
                yield from self._show(r, verifier, found)
        n = self._identified(verifier, context, draft) if _IDENTIFY.search(r.question) else None
        if n is None:
            return
        paper = context[n - 1].paper
        contribution = next((x for x in self.checker.sentences(paper) if states_contribution(x) and names_in(x)), "")
        if contribution:
            yield from self._show(r, verifier, f"{contribution.rstrip('.!? ')} [{n}].")
        if not names_a_paper(verifier, context):
            sentence = CheckedSentence(f'The paper is "{paper.title}" [{n}].', [n], True, n, 1.0, responsive=True)
            verifier.shown.append(sentence)
            verifier.citations.setdefault(n, title_citation(paper, n))
            verifier.answered.setdefault(0, len(verifier.shown) - 1)
            r.timings.setdefault("first_sentence_s", time.perf_counter() - r.t0)
            yield (" " if len(verifier.shown) > 1 else "") + sentence.text

    @staticmethod
    def _identified(verifier: Verifier, context: list[Hit], draft: str) -> int | None:
        """The source a "which paper" answer is about: the one its shown sentences cite, else the one whose title
        the draft names (a small model often answers with the title alone)."""
        if verifier.shown:
            return verifier.shown[0].markers[0] if verifier.shown[0].markers else 1
        low = " ".join(draft.lower().split())
        return next((n for n, h in enumerate(context, 1) if h.paper.title.lower() in low), None)

    def retry(self, r: Retrieved, context: list[Hit], verifier: Verifier, max_new_tokens: int) -> Iterator[str]:
        """When nothing of the draft passed (a small model often restates the question): ask the model to copy
        the one source sentence that answers, and check that. Returns the second draft."""
        user = load_template("answer_copy").format(sources=format_sources(context),
                                                   question=question_about(r.question, r.about))
        messages: list[Message] = [{"role": "system", "content": load_template("answer_system").strip()},
                                   {"role": "user", "content": user.strip()}]
        return (yield from self.write(r, messages, max_new_tokens, verifier))

    def _show(self, r: Retrieved, verifier: Verifier, text: str) -> Iterator[str]:
        for sentence in verifier.check(text) if text.strip() else []:
            first = "first_sentence_s" not in r.timings
            r.timings.setdefault("first_sentence_s", time.perf_counter() - r.t0)
            yield sentence if first else " " + sentence
