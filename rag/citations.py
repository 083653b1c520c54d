"""Citation markers: parse them, drop the ones that point nowhere, and check each against the cited paper.

Support of a sentence by a paper is measured two transparent ways and combined:
  dense   - the best cosine similarity between the sentence and one of the abstract's sentences;
  lexical - the share of the sentence's content words (numbers included) found in the title + abstract.
A sentence that states a number the paper does not contain is never supported.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

from rag.embed import Embedder
from rag.prompt import looks_like_instruction
from rag.types import Citation, Hit, Paper

MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"[a-z][a-z0-9\-]+|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\dA-Z])")   # "40x", "114k" count; "3DIEBench" does not
STOPWORDS = frozenset("""a an the and or but of in on at to for from by with as is are was were be been being this that
these those it its they their them we our you your he she his her which who whom what when where why how than then there
here such can could may might will would shall should do does did done has have had not no nor also into onto over under
about above below between through during before after both each few more most other some any all only own same so too very
just paper papers study work authors propose proposes proposed show shows shown present presents using use used based
approach method methods new results result source sources""".split())

WEIGHT_DENSE = 0.6           # score = 0.6 * best sentence cosine + 0.4 * content-word coverage
SUPPORT_THRESHOLD = 0.50     # set on the dev set (eval/questions.jsonl): answerable vs unanswerable
ATTACH_MARGIN = 0.08         # an uncited sentence gets a marker only when one source clearly wins


def split_sentences(text: str) -> list[str]:
    """Sentences, one line or more each, with every marker placed at the end of the sentence it cites.

    Markers written after the full stop move in front of it ("x. [1]" -> "x [1]."), and a line in a
    small model's "[1] x [2] y" style (markers leading their text) becomes "x [1]." and "y [2].".
    """
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if MARKER.match(line):
            parts = MARKER.split(line)        # ["", "1", " text ", "2", " more"]
            for nums, body in zip(parts[1::2], parts[2::2]):
                for sentence in _SENTENCE_END.split(body.strip()):
                    sentence = sentence.strip()
                    if sentence in (".", "!", "?") and out:     # "x [1]." : the stop after a marker
                        out[-1] = out[-1].rstrip(".!?") + sentence
                        continue
                    stop = sentence[-1] if sentence[-1:] in (".", "!", "?") else ""
                    sentence = sentence.rstrip(".!?").rstrip()
                    if sentence:       # a sentence cut off by the token limit keeps no full stop
                        out.append(f"{sentence} [{nums}]{stop}")
            continue
        line = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", line)
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def markers_in(text: str) -> list[int]:
    """Distinct marker numbers in order of first appearance: "[1, 2]" and "[1][3]" both count."""
    out: list[int] = []
    for m in MARKER.finditer(text):
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part)
            if n not in out:
                out.append(n)
    return out


def _rewrite_markers(text: str, fix) -> str:
    """MARKER.sub until nothing changes: removing "[9]" from "[[9]1]" leaves a new marker "[1]"."""
    while (new := MARKER.sub(fix, text)) != text:
        text = new
    return text


def _tidy(text: str) -> str:
    """The spaces a removed marker leaves: none doubled within a line, none before punctuation."""
    return re.sub(r"[ \t]+([.,;:!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def remove_markers(text: str) -> str:
    """The text without any marker, spaces tidied; lines are kept."""
    return _tidy(_rewrite_markers(text, lambda m: ""))


def strip_markers(text: str) -> str:
    """The claim of a sentence: no markers, one line."""
    return re.sub(r"\s+([.,;:!?])", r"\1", " ".join(_rewrite_markers(text, lambda m: "").split())).strip()


def keep_valid_markers(text: str, n_sources: int) -> str:
    """Rewrite markers keeping only numbers 1..n_sources; a marker with none left is removed."""
    def fix(m: re.Match) -> str:
        nums = []
        for part in re.split(r"[,;]", m.group(1)):
            n = int(part)
            if 1 <= n <= n_sources and n not in nums:
                nums.append(n)
        return "".join(f"[{n}]" for n in nums)
    return _tidy(_rewrite_markers(text, fix))


def content_words(text: str) -> set[str]:
    words = set()
    for w in _WORD.findall(text.lower()):
        w = w.rstrip("%").replace(",", "")
        if w in STOPWORDS or len(w) < 2 and not w.isdigit():
            continue
        words.add(w[:-1] if w.endswith("s") and len(w) > 3 and not w.isdigit() else w)
    return words


def numbers_in(text: str) -> set[str]:
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


_TOKEN = re.compile(r"[A-Za-z0-9][\w\-]*\w|[A-Za-z]")


def names_in(text: str) -> set[str]:
    """Lower-cased names: acronyms and mixed-case or letter-and-digit words ("SIE", "3DIEBench", "LLaMA-2")."""
    return {t.lower() for t in _TOKEN.findall(text)
            if (any(c.isupper() for c in t[1:]) or any(c.isdigit() for c in t)) and any(c.isalpha() for c in t)}


def evidence_sentences(abstract: str) -> list[str]:
    """The abstract's sentences that may back a claim: a sentence addressing the assistant ("Ignore all
    previous instructions...") is not a finding, so it is neither evidence nor shown to the model."""
    return [s for s in split_sentences(abstract) if not looks_like_instruction(s)] or [""]


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

    def __init__(self, embedder: Embedder, *, threshold: float = SUPPORT_THRESHOLD, cache_size: int = 4096):
        self.embedder, self.threshold = embedder, threshold
        self._cache: OrderedDict[str, tuple[list[str], list[list[float]]]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def prefetch(self, papers: Sequence[Paper]) -> None:
        """Embed the sentences of every paper not yet cached in one call (one call is much cheaper than many)."""
        with self._lock:
            todo = [p for p in papers if p.paper_id not in self._cache]
        if not todo:
            return
        split = [evidence_sentences(p.abstract) for p in todo]
        vectors = self.embedder.embed([s for sentences in split for s in sentences])
        with self._lock:
            i = 0
            for paper, sentences in zip(todo, split):
                self._cache[paper.paper_id] = (sentences, vectors[i:i + len(sentences)])
                i += len(sentences)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    def _paper_sentences(self, paper: Paper) -> tuple[list[str], list[list[float]]]:
        with self._lock:
            if paper.paper_id in self._cache:
                self._cache.move_to_end(paper.paper_id)
                return self._cache[paper.paper_id]
        sentences = evidence_sentences(paper.abstract)
        vectors = self.embedder.embed(sentences)
        with self._lock:
            self._cache[paper.paper_id] = (sentences, vectors)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return sentences, vectors

    def rank_sentences(self, query: str, paper: Paper, vector: Sequence[float] | None = None) -> list[float]:
        """Relevance of each abstract sentence to the query: cosine + half the query-word overlap."""
        sentences, vectors = self._paper_sentences(paper)
        vector = vector if vector is not None else self.embedder.embed([query])[0]
        words = content_words(query)
        return [sum(a * b for a, b in zip(vector, v)) + 0.5 * _overlap(words, content_words(s))
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
        cosines = [sum(a * b for a, b in zip(vector, v)) for v in vectors]
        words = content_words(claim)
        evidence = self.evidence_text(paper)
        paper_words = content_words(evidence)
        lexical = len(words & paper_words) / len(words) if words else 0.0
        best = max(range(len(sentences)),
                   key=lambda i: cosines[i] + 0.5 * _overlap(words, content_words(sentences[i])))
        missing = sorted(numbers_in(claim) - numbers_in(evidence))
        named = names_in(claim) & set(names)
        missing_names = sorted(named) if named and not named & {t.lower() for t in _TOKEN.findall(evidence)} else []
        score = WEIGHT_DENSE * max(cosines) + (1 - WEIGHT_DENSE) * lexical
        if missing or missing_names:
            score = min(score, self.threshold - 0.01)
        return Support(score=score, quote=sentences[best], dense=max(cosines), lexical=lexical,
                       missing_numbers=missing, missing_names=missing_names)


def _overlap(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a) if a else 0.0


@dataclass
class CheckedAnswer:
    text: str
    citations: list[Citation]
    sentences: list[dict]          # per sentence: text, markers, supported, best source
    attached: int = 0              # markers added to uncited sentences
    repaired: int = 0              # markers moved to the source that actually backs the sentence


SHORT_CLAIM_WORDS = 4          # a shorter sentence ("85 [1].") is read together with the question


def check_citations(answer: str, hits: Sequence[Hit], checker: SupportChecker, *,
                    attach: bool = True, question: str = "") -> CheckedAnswer:
    """Keep valid markers, attach or repair them where one source clearly backs a sentence, and
    mark each citation supported or not with its best quote. Markers number `hits` from 1."""
    text = keep_valid_markers(answer, len(hits))
    sentences = split_sentences(text)
    claims = [strip_markers(s) for s in sentences]
    # An elliptical answer means what it says about the question: embed the two together.
    in_context = [f"{question} {c}" if question and len(content_words(c)) < SHORT_CLAIM_WORDS else c
                  for c in claims]
    vectors = checker.embedder.embed(in_context) if claims else []
    asked = names_in(question)
    out_sentences, per_marker = [], {}
    attached = repaired = 0
    for sentence, claim, vector in zip(sentences, claims, vectors):
        cited = markers_in(sentence)
        if not content_words(claim) or _only_titles(claim, hits):
            out_sentences.append({"text": sentence, "markers": cited, "supported": None})
            continue
        scores = {n: checker.support(claim, hits[n - 1].paper, vector, names=asked) for n in range(1, len(hits) + 1)}
        ranked = sorted(scores, key=lambda n: -scores[n].score)
        best, second = ranked[0], (ranked[1] if len(ranked) > 1 else None)
        margin = scores[best].score - (scores[second].score if second else 0.0)
        clear_winner = scores[best].score >= checker.threshold and margin >= ATTACH_MARGIN
        if not cited and attach and clear_winner:
            cited = [best]
            attached += 1
            sentence = _append_markers(sentence, cited)
        elif cited and attach and clear_winner and not any(scores[n].score >= checker.threshold for n in cited):
            cited = [best]
            repaired += 1
            sentence = _append_markers(remove_markers(sentence), cited)
        ok = {n: scores[n].score >= checker.threshold for n in cited}
        out_sentences.append({"text": sentence, "markers": cited, "supported": all(ok.values()) if cited else None,
                              "best_source": best, "best_score": round(scores[best].score, 3)})
        for n in cited:
            prev = per_marker.get(n)
            s = scores[n]
            if prev is None:
                per_marker[n] = Citation(marker=n, paper_id=hits[n - 1].paper.paper_id, title=hits[n - 1].paper.title,
                                         supported=ok[n], quote=s.quote, score=s.score)
            else:
                prev.supported = prev.supported and ok[n]
                if s.score > prev.score:
                    prev.quote, prev.score = s.quote, s.score
    final = " ".join(s["text"] for s in out_sentences)
    # Every marker left in the text has an entry (markers on content-free sentences included).
    for n in markers_in(final):
        if n not in per_marker:
            h = hits[n - 1]
            per_marker[n] = Citation(marker=n, paper_id=h.paper.paper_id, title=h.paper.title, supported=False,
                                     quote="", score=0.0)
    citations = [per_marker[n] for n in markers_in(final)]
    return CheckedAnswer(final, citations, out_sentences, attached, repaired)


def _only_titles(claim: str, hits: Sequence[Hit]) -> bool:
    """A "sentence" that only repeats source titles (a small model's list of sources) says nothing."""
    words = content_words(claim)
    titles = set().union(*(content_words(h.paper.title) for h in hits)) if hits else set()
    return bool(words) and len(words - titles) <= 1 and len(words) >= 2


def _append_markers(sentence: str, markers: Sequence[int]) -> str:
    body = sentence.rstrip()
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1].rstrip(), body[-1]
    return f"{body} {''.join(f'[{n}]' for n in markers)}{tail}"
