"""Each sentence of a draft, checked before it is shown; once shown, it stays.

A sentence is shown when it is
  supported   - the paper it cites backs it (rag.answer.citations), markers attached or repaired, and
                every name it uses ("MERU", "WordNet") is one that paper mentions;
  responsive  - it says more than the question, and most of what it adds comes from the cited paper;
  new         - not a repeat of a shown sentence, not the question echoed back;
and it is rewritten into the third person ("We propose" -> "The authors propose"). Each shown sentence is
credited to the part of the question it answers (rag.answer.parts), so unanswered parts can be named.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from rag.answer.citations import SupportChecker, check_citations
from rag.answer.parts import asks_quantity
from rag.answer.voice import is_echo, third_person
from rag.answer.grounding import ASK_WORDS, foreign_names, quoted
from rag.text import content_words, markers_in, numbers_in, split_sentences, stems, strip_markers
from rag.types import CheckedSentence, Citation, Hit


_SCAFFOLD = frozenset(stems(" ".join(ASK_WORDS)))      # "how", "many", "does": not what a part is about
# "According to the text, X" / "Based on the information provided in the sources, X": the model's preamble, not
# content; left in, its words ("text", "information") would count against the sentence.
_FILLER = re.compile(r"^(?:(?:according\s+to|based\s+on|as\s+(?:stated|mentioned|described)\s+in|from|in)\s+(?:the\s+)?"
                     r"(?:given\s+|provided\s+)?(?:text|sources?|information|abstracts?|papers?|passages?|context)"
                     r"(?:\s+(?:provided|given|above))?(?:\s+in\s+the\s+(?:\w+\s+)?sources?)?\s*,\s*)", re.I)
_ENUMERATION = re.compile(r"^(?:\(?\d{1,2}[).:]|[-*•])\s+")      # "(1) ", "2. ", "- ": list layout, not content


@dataclass
class Verifier:
    """Checks the sentences of one answer, in order, against its numbered sources `hits`."""
    question: str
    parts: list[str]
    hits: list[Hit]
    checker: SupportChecker
    shown: list[CheckedSentence] = field(default_factory=list)
    citations: dict[int, Citation] = field(default_factory=dict)
    answered: dict[int, int] = field(default_factory=dict)       # part index -> shown sentence index
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (sentence, why), for transparency
    _said: set[str] = field(default_factory=set)        # content words of the shown sentences

    def check(self, text: str) -> list[str]:
        """The sentences of `text` that pass, ready to show (usually one)."""
        out = []
        for sentence in split_sentences(text):
            why = self._check_one(third_person(_FILLER.sub("", _ENUMERATION.sub("", sentence.strip()))))
            if isinstance(why, CheckedSentence):
                out.append(why.text[:1].upper() + why.text[1:])
                why.text = out[-1]
            else:
                self.rejected.append((sentence, why))
        return out

    def _check_one(self, sentence: str) -> CheckedSentence | str:
        claim = strip_markers(sentence)
        if not content_words(claim):
            return "says nothing"
        if not content_words(claim) - self._said:
            return "repeats a shown sentence"
        if is_echo(sentence, self.question):
            return "restates the question"
        checked = check_citations(sentence, self.hits, self.checker, question=self.question)
        if len(checked.sentences) != 1 or not checked.sentences[0].supported:
            return "no cited paper backs it"
        s = checked.sentences[0]
        names = foreign_names(strip_markers(s.text), [self.hits[n - 1].paper for n in s.markers])
        if names:
            return f"names {quoted(names)}, which its cited paper never mentions"
        if not self.responsive(s):
            return "does not answer the question"
        part = self.part_for(strip_markers(s.text))
        if part is None:
            return "answers no part of the question"
        s.responsive = True
        self._said |= content_words(claim)
        self.answered.setdefault(part, len(self.shown))
        self.shown.append(s)
        for c in checked.citations:
            prev = self.citations.setdefault(c.marker, c)
            if prev is not c and c.score > prev.score:
                prev.quote, prev.score = c.quote, c.score
        return s

    def responsive(self, s: CheckedSentence) -> bool:
        """More than the question's own words, and at least half of what it adds is in the cited papers."""
        added = content_words(strip_markers(s.text)) - content_words(self.question)
        if not added:
            return False
        cited = set().union(*(content_words(self.checker.evidence_text(self.hits[n - 1].paper)) for n in s.markers))
        return len(added & cited) >= len(added) / 2

    def part_for(self, claim: str) -> int | None:
        """The part of the question the claim answers: the one whose words it shares most, unanswered first.
        A part asking "how many" needs a number (not a citation's year) and a word of its own ("hours")."""
        words = content_words(claim)
        best, best_key = None, None
        for i, part in enumerate(self.parts):
            if asks_quantity(part) and not answers_quantity(claim, part):
                continue
            key = (len(words & content_words(part)), i not in self.answered, -i)
            if best_key is None or key > best_key:
                best, best_key = i, key
        return best

    def rejections(self) -> list[dict]:
        """The draft's sentences that were not shown, and why (in the JSON answer, for transparency)."""
        return [{"sentence": sentence, "why": why} for sentence, why in self.rejected]

    def unanswered(self) -> list[int]:
        return [i for i in range(len(self.parts)) if i not in self.answered]

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.shown)

    def citation_list(self) -> list[Citation]:
        return [self.citations[n] for n in markers_in(self.text) if n in self.citations]


def extract_for(part: str, hits: Sequence[Hit], checker: SupportChecker, *, min_score: float) -> str | None:
    """The abstract sentence of the sources that best answers `part`, cited, if one is close enough: a part the
    model left unanswered gets the paper's own words (rewritten into the third person when shown)."""
    vector = checker.embedder.embed([part])[0]
    best = (min_score, None)
    for n, hit in enumerate(hits, 1):
        for score, sentence in zip(checker.rank_sentences(part, hit.paper, vector), checker.sentences(hit.paper)):
            if asks_quantity(part) and not numbers_in(sentence):
                continue
            if score >= best[0]:
                best = (score, f"{sentence.rstrip('.!? ')} [{n}].")
    return best[1]


_CITED_YEAR = re.compile(r"\([^()]*\b(?:19|20)\d\d\b[^()]*\)")     # "(Li et al., 2023)"


def answers_quantity(claim: str, part: str) -> bool:
    """The claim states a number, outside a citation, about something the part names."""
    if not numbers_in(_CITED_YEAR.sub(" ", claim)):
        return False
    asked = set(stems(part)) - _SCAFFOLD
    return bool(asked & set(stems(claim)))
