"""Citation markers: parse them, drop the ones that point nowhere, and check each against the cited paper.

Support of a sentence by a paper is measured two transparent ways and combined:
  dense   - the best cosine similarity between the sentence and one of the abstract's sentences;
  lexical - the share of the sentence's content words (numbers included) found in the title + abstract.
A sentence that states a number the paper does not contain is never supported.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

from rag.embed import Embedder
from rag.settings import DEFAULTS, SupportConfig
from rag.text import (content_words, evidence_sentences, keep_valid_markers, looks_like_instruction, markers_in,
                      names_in, numbers_in, remove_markers, split_sentences, strip_markers, tokens_in, with_markers)
from rag.types import CheckedSentence, Citation, Hit, Paper


@dataclass
class Support:
    score: float
    quote: str
    dense: float = 0.0
    lexical: float = 0.0
    missing_numbers: list[str] = field(default_factory=list)
    missing_names: list[str] = field(default_factory=list)


class SupportChecker:
    """Scores how well a paper's text backs a sentence; caches each paper's sentence embeddings."""

    def __init__(self, embedder: Embedder, config: SupportConfig = DEFAULTS.support):
        self.embedder, self.config, self.threshold = embedder, config, config.threshold
        self._cache: OrderedDict[str, tuple[list[str], list[list[float]]]] = OrderedDict()
        self._lock = threading.Lock()

    def _remember(self, paper_id: str, entry: tuple[list[str], list[list[float]]]) -> None:
        with self._lock:
            self._cache[paper_id] = entry
            while len(self._cache) > self.config.cache_papers:
                self._cache.popitem(last=False)

    def prefetch(self, papers: Sequence[Paper]) -> None:
        """Embed the sentences of every paper not yet cached in one call (one call is much cheaper than many)."""
        with self._lock:
            todo = [p for p in papers if p.paper_id not in self._cache]
        if not todo:
            return
        split = [evidence_sentences(p.abstract) for p in todo]
        vectors = self.embedder.embed([s for sentences in split for s in sentences])
        i = 0
        for paper, sentences in zip(todo, split):
            self._remember(paper.paper_id, (sentences, vectors[i:i + len(sentences)]))
            i += len(sentences)

    def _paper_sentences(self, paper: Paper) -> tuple[list[str], list[list[float]]]:
        with self._lock:
            if paper.paper_id in self._cache:
                self._cache.move_to_end(paper.paper_id)
                return self._cache[paper.paper_id]
        sentences = evidence_sentences(paper.abstract)
        entry = (sentences, self.embedder.embed(sentences))
        self._remember(paper.paper_id, entry)
        return entry

    def rank_sentences(self, query: str, paper: Paper, vector: Sequence[float] | None = None, *,
                       overlap: bool = True) -> list[float]:
        """Relevance of each abstract sentence to the query: cosine + a share of the query-word overlap (or the
        cosine alone)."""
        sentences, vectors = self._paper_sentences(paper)
        vector = vector if vector is not None else self.embedder.embed([query])[0]
        words = content_words(query) if overlap else set()
        return [_dot(vector, v) + self.config.overlap_weight * _overlap(words, content_words(s))
                for s, v in zip(sentences, vectors)]

    def sentences(self, paper: Paper) -> list[str]:
        return self._paper_sentences(paper)[0]

    def evidence_text(self, paper: Paper) -> str:
        """Title and evidence sentences, markers removed: the words and numbers a claim may draw on."""
        title = "" if looks_like_instruction(paper.title) else paper.title
        return strip_markers(" ".join([title, *self.sentences(paper)]))

    def relevant_sentences(self, query: str, paper: Paper, *, max_words: int = 90,
                           vector: Sequence[float] | None = None) -> str:
        """The abstract's sentences most related to the query, in their original order, within max_words."""
        sentences = self.sentences(paper)
        scores = self.rank_sentences(query, paper, vector)
        chosen, used = [], 0
        for i in sorted(range(len(sentences)), key=lambda i: -scores[i]):
            n = len(sentences[i].split())
            if chosen and used + n > max_words:
                continue
            chosen.append(i)
            used += n
        return " ".join(sentences[i] for i in sorted(chosen))

    def support(self, sentence: str, paper: Paper, vector: Sequence[float] | None = None, *,
                names: set[str] = frozenset()) -> Support:
        """How well `paper` backs `sentence` (markers already stripped). A sentence that states a number
        the paper lacks, or names the question's subject (`names`) while the paper names none of it, is
        never supported: "PWNED is a dataset of 55 classes [1]" must not borrow paper 1's dataset."""
        claim = strip_markers(sentence)
        vector = vector if vector is not None else self.embedder.embed([claim])[0]
        sentences, vectors = self._paper_sentences(paper)
        cosines = [_dot(vector, v) for v in vectors]
        words = content_words(claim)
        evidence = self.evidence_text(paper)
        lexical = _overlap(words, content_words(evidence))
        best = max(range(len(sentences)), key=lambda i: cosines[i] + self.config.overlap_weight * _overlap(
            words, content_words(sentences[i])))
        missing = sorted(numbers_in(claim) - numbers_in(evidence))
        named = names_in(claim) & set(names)
        missing_names = sorted(named) if named and not named & tokens_in(evidence) else []
        score = self.config.weight_dense * max(cosines) + (1 - self.config.weight_dense) * lexical
        if missing or missing_names:
            score = min(score, self.threshold - 0.01)
        return Support(score=score, quote=sentences[best], dense=max(cosines), lexical=lexical,
                       missing_numbers=missing, missing_names=missing_names)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b))


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    sentences: list[CheckedSentence]
    attached: int = 0              # markers added to uncited sentences
    repaired: int = 0              # markers moved to the source that actually backs the sentence


def check_citations(answer: str, hits: Sequence[Hit], checker: SupportChecker, *,
                    attach: bool = True, question: str = "") -> CheckedAnswer:
    """Keep valid markers, attach or repair them where one source clearly backs a sentence, and
    mark each citation supported or not with its best quote. Markers number `hits` from 1."""
    sentences = split_sentences(keep_valid_markers(answer, len(hits)))
    claims = [strip_markers(s) for s in sentences]
    vectors = checker.embedder.embed(_in_context(claims, question, checker.config)) if claims else []
    asked = names_in(question)
    out: list[CheckedSentence] = []
    per_marker: dict[int, Citation] = {}
    for sentence, claim, vector in zip(sentences, claims, vectors):
        if not content_words(claim) or _only_titles(claim, hits):
            out.append(CheckedSentence(sentence, markers_in(sentence), None))
            continue
        scores = {n: checker.support(claim, hits[n - 1].paper, vector, names=asked) for n in range(1, len(hits) + 1)}
        checked = _place_markers(sentence, scores, checker.threshold, checker.config.attach_margin, attach)
        out.append(checked)
        for n in checked.markers:
            merge_citation(per_marker, n, hits[n - 1].paper, scores[n], scores[n].score >= checker.threshold)
    final = " ".join(s.text for s in out)
    # Every marker left in the text has an entry (markers on content-free sentences included).
    for n in markers_in(final):
        if n not in per_marker:
            per_marker[n] = Citation(marker=n, paper_id=hits[n - 1].paper.paper_id, title=hits[n - 1].paper.title,
                                     supported=False, quote="", score=0.0)
    return CheckedAnswer(final, [per_marker[n] for n in markers_in(final)], out,
                         attached=sum(s.fix == "attached" for s in out), repaired=sum(s.fix == "repaired" for s in out))


def _in_context(claims: Sequence[str], question: str, config: SupportConfig) -> list[str]:
    """An elliptical answer ("85 [1].") means what it says about the question: embed the two together."""
    return [f"{question} {c}" if question and len(content_words(c)) < config.short_claim_words else c
            for c in claims]


def _place_markers(sentence: str, scores: dict[int, Support], threshold: float, margin: float,
                   attach: bool) -> CheckedSentence:
    """Attach a marker to an uncited sentence, or move a wrong one, where one source clearly backs it."""
    cited = markers_in(sentence)
    ranked = sorted(scores, key=lambda n: -scores[n].score)
    best = ranked[0]
    second = scores[ranked[1]].score if len(ranked) > 1 else 0.0
    clear_winner = scores[best].score >= threshold and scores[best].score - second >= margin
    fix = ""
    if not cited and attach and clear_winner:
        cited, fix = [best], "attached"
        sentence = with_markers(sentence, cited)
    elif cited and attach and clear_winner and not any(scores[n].score >= threshold for n in cited):
        cited, fix = [best], "repaired"
        sentence = with_markers(remove_markers(sentence), cited)
    supported = all(scores[n].score >= threshold for n in cited) if cited else None
    return CheckedSentence(sentence, cited, supported, best, round(scores[best].score, 3), fix)


def merge_citation(per_marker: dict[int, Citation], n: int, paper: Paper, s: Support, ok: bool) -> None:
    """One Citation per marker: supported only if every sentence citing it is; the best quote wins."""
    prev = per_marker.get(n)
    if prev is None:
        per_marker[n] = Citation(marker=n, paper_id=paper.paper_id, title=paper.title, supported=ok,
                                 quote=s.quote, score=s.score)
        return
    prev.supported = prev.supported and ok
    if s.score > prev.score:
        prev.quote, prev.score = s.quote, s.score


def _only_titles(claim: str, hits: Sequence[Hit]) -> bool:
    """A "sentence" that only repeats source titles (a small model's list of sources) says nothing."""
    words = content_words(claim)
    titles = set().union(*(content_words(h.paper.title) for h in hits)) if hits else set()
    return bool(words) and len(words - titles) <= 1 and len(words) >= 2
