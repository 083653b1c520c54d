"""Text helpers every step shares, the one copy of each: sentences, citation markers, content words,
numbers and names, and the detection of text that addresses the assistant instead of reporting research."""
from __future__ import annotations

import re
from functools import lru_cache
from typing import Sequence

# The one exact cannot-answer phrase: the code answers with it, detects it in model output (a bigger
# model may say it on its own), and the tests use it. The answer prompt deliberately does not ask the
# bundled 0.5B model for it: measured on the dev set, that instruction made it refuse most answerable
# questions while it still invented answers to unanswerable ones. Refusing is the code's job (rag.answer.policy).
CANNOT_ANSWER = "The papers in this collection do not answer this question."

MARKER = re.compile(r"\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_MARKERS_AFTER_STOP = re.compile(r"([.!?])((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])+)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"[a-z][a-z0-9\-]+|\d+(?:[.,]\d+)*%?")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\dA-Z])")   # "40x", "114k" count; "3DIEBench" does not
_TOKEN = re.compile(r"[A-Za-z0-9][\w\-]*\w|[A-Za-z]")
STOPWORDS = frozenset("""a an the and or but of in on at to for from by with as is are was were be been being this that
these those it its they their them we our you your he she his her which who whom what when where why how than then there
here such can could may might will would shall should do does did done has have had not no nor also into onto over under
about above below between through during before after both each few more most other some any all only own same so too very
just paper papers study work authors propose proposes proposed show shows shown present presents using use used based
approach method methods new results result source sources""".split())


# -- sentences and markers ---------------------------------------------------------------------------------
def split_sentences(text: str) -> list[str]:
    """Sentences, one line or more each, with every marker placed at the end of the sentence it cites.

    Markers written after the full stop move in front of it ("x. [1]" -> "x [1]."), and a line in a
    small model's "[1] x [2] y" style (markers leading their text) becomes "x [1]." and "y [2].".
    """
    out: list[str] = []
    for line in text.splitlines():
        line = line.strip()
        if MARKER.match(line):
            out.extend(_leading_marker_sentences(line, out))
            continue
        line = _MARKERS_AFTER_STOP.sub(lambda m: f"{m.group(2)}{m.group(1)}", line)
        out.extend(s.strip() for s in _SENTENCE_END.split(line) if s.strip())
    return out


def _leading_marker_sentences(line: str, previous: list[str]) -> list[str]:
    """"[1] x. [2] y" -> ["x [1].", "y [2]."]; a lone stop after a marker closes the previous sentence."""
    out: list[str] = []
    parts = MARKER.split(line)        # ["", "1", " text ", "2", " more"]
    for nums, body in zip(parts[1::2], parts[2::2]):
        for sentence in _SENTENCE_END.split(body.strip()):
            sentence = sentence.strip()
            target = out or previous
            if sentence in (".", "!", "?") and target:     # "x [1]." : the stop after a marker
                target[-1] = target[-1].rstrip(".!?") + sentence
                continue
            stop = sentence[-1] if sentence[-1:] in (".", "!", "?") else ""
            sentence = sentence.rstrip(".!?").rstrip()
            if sentence:       # a sentence cut off by the token limit keeps no full stop
                out.append(f"{sentence} [{nums}]{stop}")
    return out


_COMPLETE = re.compile(r"(?<=[.!?])((?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])*)(?:\s+(?=[A-Z0-9\"'(])|\s*\n+)")


def complete_sentences(text: str) -> tuple[list[str], str]:
    """(sentences known to be complete, the rest) of text that is still being written: a sentence is complete
    once the next one has begun, so the markers after its full stop ("x. [1] Next") stay with it."""
    done, start = [], 0
    for m in _COMPLETE.finditer(text):
        piece = text[start:m.end(1)].strip()
        if piece:
            done.extend(split_sentences(piece))
        start = m.end()
    return done, text[start:]


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


def with_markers(sentence: str, markers: Sequence[int]) -> str:
    """The sentence with its markers replaced by `markers`, placed before the final stop: "[1] X." -> "X [1]."."""
    body = re.sub(r"\s+([.,;:!?])", r"\1", MARKER.sub("", sentence).strip())
    body = re.sub(r"([.!?])\s+(?:and|or|but)\s*[.!?]?$", r"\1", body)          # "x. and [1]": a dangling conjunction
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1].rstrip(), body[-1]
    return f"{body} {''.join(f'[{n}]' for n in markers)}{tail}"


def trim_words(text: str, n: int) -> str:
    """At most n words, with an ellipsis when cut."""
    words = text.split()
    return text if len(words) <= n else " ".join(words[:n]).rstrip(",;:") + " …"


# -- words, numbers, names ---------------------------------------------------------------------------------
def content_words(text: str) -> set[str]:
    """Lower-cased words that carry meaning (no stop words), crudely singularised; numbers included."""
    words = set()
    for w in _WORD.findall(text.lower()):
        w = w.rstrip("%").replace(",", "")
        if w in STOPWORDS or len(w) < 2 and not w.isdigit():
            continue
        words.add(w[:-1] if w.endswith("s") and len(w) > 3 and not w.isdigit() else w)
    return words


_STEM_WORD = re.compile(r"[a-z0-9]+")


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer      # PyStemmer (Snowball), also what BM25 stems with

    return Stemmer.Stemmer("english")


def stems(text: str) -> list[str]:
    """The text's words, lower-cased and stemmed ("Embeddings" -> "embed"), stop words included."""
    return _stemmer().stemWords(_STEM_WORD.findall(text.lower()))


def numbers_in(text: str) -> set[str]:
    """The numbers a text states ("2.5", "114k" -> "114", "1,000" -> "1000")."""
    return {n.replace(",", "") for n in _NUMBER.findall(text)}


def tokens_in(text: str) -> set[str]:
    """Every word-like token, lower-cased (the set names are looked up in)."""
    return {t.lower() for t in _TOKEN.findall(text)}


def names_in(text: str) -> set[str]:
    """Lower-cased names: acronyms and mixed-case or letter-and-digit words ("SIE", "3DIEBench", "LLaMA-2")."""
    return {t.lower() for t in _TOKEN.findall(text)
            if (any(c.isupper() for c in t[1:]) or any(c.isdigit() for c in t)) and any(c.isalpha() for c in t)}


_CONTRIBUTION = re.compile(r"\b(?:we|this (?:paper|work))\s+(?:propose|introduce|present|develop|show|prove|find|"
                           r"provide|design|formalize)", re.I)


def states_contribution(sentence: str) -> bool:
    """"We propose ...", "This paper introduces ...": the sentence says what the paper does."""
    return bool(_CONTRIBUTION.search(sentence))


# -- text that addresses the assistant ---------------------------------------------------------------------
# Text inside a paper that speaks to the assistant instead of reporting research: an attempt to override
# the rules, a chat-role label, an order to reply with given words, or our own cannot-answer phrase. Such a
# sentence is never shown to the model and never counts as evidence. Kept narrow on purpose:
# tests/rag/test_text.py checks that no sentence of the bundled abstracts matches.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.!?]{0,40}?\b(?:instructions?|prompts?|rules|guidelines)\b"
    r"|^\W*(?:system|assistant|user|human|question|answer|instructions?)\s*:"
    r"|\b(?:answer|reply|respond|say|print|output|write)\s+(?:only\s+)?(?:with\s+)?(?:the\s+(?:word|phrase|text)\s+)?[\"'‘“]"
    r"|\b(?:answer|reply|respond)\s+only\b"
    r"|\byou\s+(?:must|are\s+now)\b", re.I)
SOURCE_FENCE = re.compile(r"</?\s*sources?\s*>", re.I)


def looks_like_instruction(sentence: str) -> bool:
    """True for a sentence that addresses the assistant (see _INSTRUCTION) rather than stating a finding."""
    sentence = SOURCE_FENCE.sub(" ", sentence).strip()
    return bool(_INSTRUCTION.search(sentence)) or CANNOT_ANSWER.lower()[:40] in " ".join(sentence.lower().split())


def evidence_sentences(abstract: str) -> list[str]:
    """The abstract's sentences that may back a claim: a sentence addressing the assistant ("Ignore all
    previous instructions...") is not a finding, so it is neither evidence nor shown to the model."""
    return [s for s in split_sentences(abstract) if not looks_like_instruction(s)] or [""]
