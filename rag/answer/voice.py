"""How an answer speaks: about the papers in the third person, never as their authors, and never by repeating
the question back. Rewrites copied abstract sentences ("We propose X") into "The authors propose X"."""
from __future__ import annotations

import re

from rag.text import content_words, strip_markers

# (pattern, replacement); applied in order. "we"/"our"/"us" of a copied abstract sentence are the authors'.
_THIRD_PERSON = [
    (re.compile(r"\b(?:in|within)\s+this\s+(?:paper|work|study|article),?\s+we\b", re.I), "the authors"),
    (re.compile(r"\bwe\b", re.I), "the authors"),
    (re.compile(r"\bours\b", re.I), "theirs"),
    (re.compile(r"\bour\b", re.I), "their"),
    (re.compile(r"\bus\b"), "them"),
    (re.compile(r"\bourselves\b", re.I), "themselves"),
]
# "The first source states that X": the model pointing at its prompt's layout; the marker already says which.
_NTH_SOURCE = r"^(?:the\s+)?(?:first|second|third|fourth|fifth|last|\d+(?:st|nd|rd|th))\s+(?:source|paper|abstract)"
_SOURCE_PREAMBLE = re.compile(_NTH_SOURCE + r"\s+(?:states|says|shows|finds|reports|mentions|notes)\s+that\s+", re.I)
# "The second source proposes X [2]": the same pointing, as the sentence's subject; the marker names the paper.
_SOURCE_SUBJECT = re.compile(_NTH_SOURCE + r"\b", re.I)
# "To this end, X" / "Based on these findings, X": a copied sentence's link to the abstract sentence before it,
# which the answer does not show; out of its paragraph it points at nothing, so it is dropped.
_DANGLING_LINK = re.compile(
    r"^(?:to this end|to that end|for this purpose|to do so|to do this|here|specifically|concretely|in particular|"
    r"moreover|furthermore|further|additionally|in addition|also|then|finally|thus|therefore|hence|consequently|"
    r"as a result|instead|in this way|overall|"
    r"(?:based on|building on|motivated by|inspired by|guided by) (?:this|these|that|those|such)"
    r"(?: \w+){0,2}|to (?:address|tackle|solve|overcome|bridge|fill|mitigate|remedy|alleviate|handle) "
    r"(?:this|these|that|those|such)(?: \w+){0,2}|with this in mind),\s+", re.I)
FIRST_PERSON = re.compile(r"\b(?:[Ww]e|[Oo]urs?|us|[Oo]urselves|[Mm]y|me)\b|\bI\b(?![.'’])")     # not "i.e."
_US_ACRONYM = re.compile(r"\bUS\b")          # "the US" is a country, not the authors


def third_person(sentence: str) -> str:
    """The sentence about the paper's authors instead of in their voice; its first letter capitalised."""
    out = _DANGLING_LINK.sub("", _SOURCE_PREAMBLE.sub("", sentence.lstrip()))
    out = _SOURCE_SUBJECT.sub("This paper", out)
    for pattern, replacement in _THIRD_PERSON:
        out = pattern.sub(replacement, out)
    out = out.replace("the authors's", "the authors'")
    return out[:1].upper() + out[1:] if out else out


def is_first_person(sentence: str) -> bool:
    """The sentence speaks as an author ("We show ...", "our method"), quotes aside."""
    unquoted = re.sub(r"\"[^\"]*\"|“[^”]*”", " ", _US_ACRONYM.sub(" ", sentence))
    return bool(FIRST_PERSON.search(unquoted))


def is_echo(sentence: str, question: str) -> bool:
    """The sentence repeats the question instead of answering it: a question itself, or nothing it says goes
    beyond the question's own words."""
    claim = strip_markers(sentence)
    if claim.rstrip().endswith("?"):
        return True
    return not (content_words(claim) - content_words(question))
