"""A cited summary across every relevant paper: topic -> retrieve a pool -> relevance cut-off -> extractive
evidence per paper -> map (one paragraph per batch of papers) + reduce (an overview sentence over all papers)
-> check every sentence, repair or replace what its source does not back -> Summary.

The local model is small and cites unreliably, so the text it writes is only kept sentence by sentence where
the support check backs it; anything else becomes an extractive sentence quoting the paper, or is flagged.
"""
from __future__ import annotations

import time
from typing import Callable, Iterator, Sequence

from rag.answer.citations import SupportChecker, check_citations, merge_citation
from rag.answer.drafts import batches, extractive_sentence, flag, quoted, renumber, tidy, titles_in, unflag
from rag.answer.policy import check_question, is_cannot_answer, weak_evidence
from rag.answer.prompt import format_sources, load_template
from rag.answer.selection import apply_cutoff, paper_evidence, topic_query
from rag.answer.voice import third_person
from rag.filters import describe
from rag.generators.base import Generator
from rag.retrieve import HybridRetriever, coverage
from rag.settings import DEFAULTS, AbstainPolicy, SummaryConfig
from rag.text import (CANNOT_ANSWER, MARKER, content_words, keep_valid_markers, markers_in, split_sentences,
                      strip_markers, trim_words, with_markers)
from rag.types import AbstainReason, CheckedSentence, Citation, Hit, Message, PaperEvidence, Summary

# on_progress(message, done, total): e.g. ("reading papers", 7, 12); a UI can draw a bar from done/total.
Progress = Callable[[str, int, int], None]


class Summarizer:
    """Builds a `Summary` of everything the collection says on a topic."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, *,
                 config: SummaryConfig = DEFAULTS.summary, policy: AbstainPolicy | None = DEFAULTS.policy,
                 model_info: dict | None = None, max_topic_chars: int = DEFAULTS.max_question_chars):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.config, self.policy, self.max_topic_chars = config, policy, max_topic_chars
        self.model_info = model_info or {"generator": getattr(generator, "name", type(generator).__name__),
                                         "embedder": getattr(checker.embedder, "name", "")}

    def summarize(self, topic: str, *, on_progress: Progress | None = None, stream: bool = False,
                  where: dict | None = None) -> Summary | Iterator[str | Summary]:
        """The Summary; with stream=True an iterator of the model's raw text pieces, then the Summary last.
        `where` limits the papers (rag.filters.where_filter)."""
        items = self.stream(topic, on_progress=on_progress, where=where)
        if stream:
            return items
        summary = None
        for item in items:
            if isinstance(item, Summary):
                summary = item
        assert summary is not None
        return summary

    # -- the steps ------------------------------------------------------------------------------------------
    def select(self, query: str, where: dict | None = None,
               vector: Sequence[float] | None = None) -> tuple[list[Hit], list[Hit], dict[str, float]]:
        """(kept, left_out, evidence signals) for the topic query (`vector`: its embedding, if already made)."""
        vector = vector if vector is not None else self.checker.embedder.embed([query])[0]
        pool = self.retriever.retrieve(query, self.config.pool, where=where, vector=vector)
        if pool:   # embed the sentences of every candidate the support condition may score, in one call
            best = max(h.score for h in pool)
            self.checker.prefetch([h.paper for h in pool if h.score >= self.config.min_relative * best])
        kept, left_out = apply_cutoff(pool, self.config,
                                      support=lambda h: self.checker.support(query, h.paper, vector).score)
        top = (self.policy or DEFAULTS.policy).evidence_papers
        signals = {"candidates": float(len(pool)), "kept": float(len(kept)),
                   "coverage": coverage(query, pool, self.retriever.bm25, top=top) if pool else 0.0,
                   "dense": max((h.dense for h in pool[:top]), default=0.0)}
        if kept and (not content_words(query) or self.policy and weak_evidence(signals, self.policy)):
            left_out = (kept + left_out)[:self.config.left_out]
            kept = []
        return kept, left_out, signals

    def read(self, query: str, kept: Sequence[Hit], progress: Progress,
             vector: Sequence[float] | None = None) -> list[PaperEvidence]:
        """The evidence sentences of each kept paper, numbered [1]..[n] in kept order."""
        vector = vector if vector is not None else self.checker.embedder.embed([query])[0]
        papers = []
        for i, hit in enumerate(kept, 1):
            progress(f"reading {i} of {len(kept)} papers", i, len(kept))
            papers.append(paper_evidence(i, query, hit, self.checker, vector, self.config))
        return papers

    def batch_messages(self, query: str, batch: Sequence[PaperEvidence]) -> list[Message]:
        """Sources numbered [1]..[k] within the batch (renumbered to global markers afterwards)."""
        hits = [Hit(paper=p.hit.paper, passages=[" ".join(p.quotes)], score=p.hit.score) for p in batch]
        user = load_template("summary_batch").format(sources=format_sources(hits), topic=query,
                                                     max_sentences=self.config.batch_sentences)
        return [{"role": "system", "content": load_template("summary_system").strip()},
                {"role": "user", "content": user.strip()}]

    def overview_messages(self, query: str, papers: Sequence[PaperEvidence]) -> list[Message]:
        """All kept papers by their global number, title and best sentence: the reduce step's input."""
        # No titles: given them, the small model lists the titles instead of grouping the findings.
        lines = "\n".join(f"[{p.marker}] " + MARKER.sub(lambda m: f"({m.group(1)})", trim_words(
            p.contribution, self.config.contribution_words)) for p in papers)
        user = load_template("summary_overview").format(papers=lines, topic=query)
        return [{"role": "system", "content": load_template("summary_system").strip()},
                {"role": "user", "content": user.strip()}]

    def write(self, query: str, papers: list[PaperEvidence], progress: Progress, timings: dict, t0: float
              ) -> Iterator[str]:
        """Map (a paragraph per batch) and reduce (an overview), streamed; returns the raw paragraphs."""
        raw_paragraphs: list[str] = []
        groups = batches(papers, self.config.batch_size)
        with_overview = len(groups) > 1 and self.config.overview
        steps = len(groups) + with_overview
        for b, group in enumerate(groups, 1):
            first, last = group[0].marker, group[-1].marker
            progress(f"writing about papers {first}-{last} of {len(papers)}", b - 1, steps)
            text = yield from self._generate(self.batch_messages(query, group), self.config.batch_tokens, timings, t0)
            if text and not is_cannot_answer(text):
                text = tidy(text, [p.hit.paper.title for p in group])
                raw_paragraphs.append(renumber(text, first - 1, len(group)))
        if with_overview:
            progress("writing the overview", steps - 1, steps)
            text = yield from self._generate(self.overview_messages(query, papers), self.config.overview_tokens,
                                             timings, t0)
            if text and not is_cannot_answer(text):
                raw_paragraphs.insert(0, keep_valid_markers(tidy(text, [p.hit.paper.title for p in papers]),
                                                            len(papers)))
        progress("checking citations", steps, steps)
        return raw_paragraphs

    def verify(self, paragraphs: Sequence[str], papers: Sequence[PaperEvidence]
               ) -> tuple[list[list[str]], list[dict], dict[str, float]]:
        """Sentences kept (markers repaired to supported ones), replaced by extractive ones, or flagged."""
        hits = [p.hit for p in papers]
        out, flagged, used_quotes = [], [], set()
        counts = {"attached": 0.0, "repaired": 0.0, "replaced": 0.0, "dropped": 0.0, "flagged": 0.0}
        for paragraph in paragraphs:
            if not paragraph.strip():
                continue
            checked = check_citations(paragraph, hits, self.checker)
            counts["attached"] += checked.attached
            counts["repaired"] += checked.repaired
            kept = [self._verify_sentence(s, hits, out, used_quotes, flagged, counts) for s in checked.sentences]
            kept = [s for s in kept if s]
            if kept:
                out.append(kept)
        return out, flagged, counts

    def _verify_sentence(self, s: CheckedSentence, hits: Sequence[Hit], out: list[list[str]], used_quotes: set,
                         flagged: list[dict], counts: dict[str, float]) -> str | None:
        """The sentence as kept (markers repaired), flagged, replaced by the cited paper's own words, or None."""
        claim = strip_markers(s.text)
        if not s.best_source:      # not scored: no content words,: "In summary:" and the like
            counts["dropped"] += 1
            return None
        if titles_in(claim, [h.paper.title for h in hits]) >= 2:          # a list of titles, not a statement
            counts["dropped"] += 1
            return None
        support = {n: self.checker.support(claim, hits[n - 1].paper) for n in s.markers}
        good = [n for n in s.markers if support[n].score >= self.checker.threshold]
        if good:
            return third_person(with_markers(s.text, good))   # "[1] We X." -> "The authors X [1]."
        if self.config.unsupported == "flag":
            counts["flagged"] += 1
            flagged.append({"sentence": s.text, "reason": "unsupported" if s.markers else "uncited",
                            "markers": s.markers})
            return flag(s.text)
        if not s.markers and s.best_score < self.checker.threshold:
            counts["dropped"] += 1              # filler no paper backs ("Several papers study this.")
            return None
        # The model meant the paper it cited (or, uncited, the one that backs it best but not clearly
        # enough to attach): say what that paper says, in its own words.
        target = max(s.markers, key=lambda n: support[n].score) if s.markers else s.best_source
        quote = support[target].quote if s.markers else self.checker.support(claim, hits[target - 1].paper).quote
        if (target, quote) in used_quotes or quoted(quote, out):
            counts["dropped"] += 1
            return None
        used_quotes.add((target, quote))
        counts["replaced"] += 1
        return extractive_sentence(quote, target)

    def cover(self, paragraphs: list[list[str]], papers: Sequence[PaperEvidence]) -> int:
        """Append an extractive sentence for every kept paper the text does not cite yet; returns how many."""
        cited = set(markers_in(" ".join(s for p in paragraphs for s in p)))
        missing = [p for p in papers if p.marker not in cited]
        if missing:
            paragraphs.append([extractive_sentence(p.best, p.marker) for p in missing])
        return len(missing)

    def cite(self, text: str, papers: Sequence[PaperEvidence]) -> list[Citation]:
        """One Citation per distinct marker in `text`, in order of appearance; supported only if every
        sentence citing it is backed by that paper."""
        per_marker: dict[int, Citation] = {}
        sentences = [s for s in split_sentences(text) if markers_in(s)]
        claims = [strip_markers(unflag(s)) for s in sentences]
        vectors = self.checker.embedder.embed(claims) if claims else []
        for sentence, claim, vector in zip(sentences, claims, vectors):
            for n in markers_in(sentence):
                if 1 <= n <= len(papers):
                    s = self.checker.support(claim, papers[n - 1].hit.paper, vector)
                    merge_citation(per_marker, n, papers[n - 1].hit.paper, s, s.score >= self.checker.threshold)
        return [per_marker[n] for n in markers_in(text) if n in per_marker]

    # -- the whole flow -------------------------------------------------------------------------------------
    def stream(self, topic: str, *, on_progress: Progress | None = None,
               where: dict | None = None) -> Iterator[str | Summary]:
        """Yield the model's raw text as it is written (batch by batch), then the checked Summary."""
        progress = on_progress or (lambda message, done, total: None)
        t0 = time.perf_counter()
        topic = check_question(topic, self.max_topic_chars)
        query = topic_query(topic)
        progress("finding the relevant papers", 0, 0)
        vector = self.checker.embedder.embed([query])[0]     # once: retrieval, cut-off and evidence share it
        kept, left_out, signals = self.select(query, where, vector)
        timings = {"retrieve_s": time.perf_counter() - t0}
        result = _Result(self, topic, query, left_out, timings, t0)
        if not kept:
            reason = (AbstainReason.FILTER_MATCHES_NOTHING if where and not signals["candidates"]
                      else AbstainReason.NO_RELEVANT_PAPER)
            text = CANNOT_ANSWER if reason is AbstainReason.NO_RELEVANT_PAPER else \
                f"{CANNOT_ANSWER} No paper in the collection matches the filter ({describe(where)})."
            yield text
            yield result(text, [], citations=[], related=left_out[:3], evidence=signals, abstain_reason=reason)
            return
        papers = self.read(query, kept, progress, vector)
        timings["read_s"] = time.perf_counter() - t0 - timings["retrieve_s"]
        raw_paragraphs = yield from self.write(query, papers, progress, timings, t0)
        timings["generate_s"] = time.perf_counter() - t0 - timings["retrieve_s"] - timings["read_s"]
        paragraphs, flagged, counts = self.verify(raw_paragraphs, papers)
        counts["covered"] = float(self.cover(paragraphs, papers) if self.config.cover_all else 0)
        text = "\n\n".join(" ".join(p) for p in paragraphs)
        yield result(text, papers, citations=self.cite(text, papers), flagged=flagged, evidence={**signals, **counts})

    def _generate(self, messages: list[Message], max_new_tokens: int, timings: dict, t0: float
                  ) -> Iterator[str]:
        parts = []
        for token in self.generator.stream(messages, max_new_tokens=max_new_tokens):
            timings.setdefault("first_token_s", time.perf_counter() - t0)
            parts.append(token)
            yield token
        if parts:
            yield "\n\n"
        return "".join(parts).strip()


class _Result:
    """Makes the Summary of one topic, whatever the outcome, with its timings closed."""

    def __init__(self, summarizer: Summarizer, topic: str, query: str, left_out: list[Hit], timings: dict,
                 t0: float):
        self.s, self.topic, self.query, self.left_out, self.timings, self.t0 = \
            summarizer, topic, query, left_out, timings, t0

    def __call__(self, text: str, papers: list[PaperEvidence], **kw) -> Summary:
        self.timings["total_s"] = time.perf_counter() - self.t0
        self.timings.setdefault("first_token_s", self.timings["total_s"])
        return Summary(question=self.topic, answer=text, abstained=not papers, sources=[p.hit for p in papers],
                       timings=self.timings, model=self.s.model_info, query=self.query, papers=papers,
                       left_out=self.left_out, contribution_words=self.s.config.contribution_words, route="summary",
                       **kw)
