"""Is what the question names in the evidence? The question's key terms (names, and runs of content words
that are not mere question scaffolding), where each is mentioned, and which ones no paper mentions.

A term is mentioned by a paper when its words are in the paper's title or abstract: a name as written (case
and separators aside), a phrase by its stemmed words. Refusing on a missing term needs no threshold tuned to
questions: a name the whole collection never mentions cannot be answered from it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterable, Sequence

from rag.text import STOPWORDS, evidence_sentences, looks_like_instruction, stems
from rag.types import Paper

# Words that say what kind of answer is wanted, or how the question is put, rather than what it is about.
ASK_WORDS = frozenset("""
what which who whom whose when where why how many much does do did is are was were can could would should will
paper papers work works study studies article articles research collection author authors researcher researchers
method methods approach approaches technique techniques model models framework frameworks system systems
propose proposes proposed introduce introduces introduced present presents presented describe describes described
use uses used using apply applies applied employ employs employed rely relies adopt adopts adopted leverage leverages
show shows showed shown find finds found demonstrate demonstrates demonstrated report reports reported claim claims
achieve achieves achieved reach reaches reached obtain obtains obtained get gets got attain attains yield yields
evaluate evaluates evaluated evaluation evaluations test tests tested measure measures measured assess assessed
compare compares compared comparison against versus vs outperform outperforms improve improves improved
benchmark benchmarks dataset datasets data result results performance score scores number numbers size
kind kinds type types sort way ways main key specific particular certain exactly called named name
according mention mentions mentioned discuss discusses discussed say says said tell tells explain explains
there any one ones someone something anything thing things like also well whether if yes no please
learn learns learned learning train trains trained training build builds built make makes made
main primary new novel existing current proposed
""".split()) | STOPWORDS

_TOKEN = re.compile(r"[^\W_][\w\-'’]*[^\W_]|[^\W_]")
_BREAK = re.compile(r"[,;:?!.()\"“”]")


@dataclass(frozen=True)
class Term:
    text: str                  # as the question writes it
    stems: tuple[str, ...]     # its words, stemmed and lower-cased
    name: bool                 # a name: an acronym, mixed case, letters with digits, or capitalised mid-sentence


def is_name(token: str, sentence_start: bool) -> bool:
    """"SIE", "3DIEBench", "LLaMA-2", "WordNet"; or "Mamba" written with a capital inside a sentence."""
    letters = [c for c in token if c.isalpha()]
    if not letters:
        return False
    if any(c.isupper() for c in token[1:]) or any(c.isdigit() for c in token):
        return len(token) > 1
    return token[0].isupper() and not sentence_start and len(token) > 1


def key_terms(question: str) -> list[Term]:
    """The names and content-word phrases of the question, in order."""
    terms: list[Term] = []
    run: list[str] = []

    def close() -> None:
        if run:
            words = tuple(stems(" ".join(run)))
            if words:
                terms.append(Term(" ".join(run), words, False))
            run.clear()

    start, prev_end = True, 0
    for m in _TOKEN.finditer(question):
        gap = question[prev_end:m.start()]
        if _BREAK.search(gap):
            close()
            start = start or bool(re.search(r"[?!.]", gap))
        token, prev_end = m.group(0), m.end()
        if is_name(token, start):
            close()
            terms.append(Term(token, tuple(stems(token)), True))
        elif token.lower().strip("'’") in ASK_WORDS or len(token) < 2:
            close()
        else:
            run.append(token)
        start = False
    close()
    return [t for t in terms if t.stems or t.name]


@lru_cache(maxsize=512)
def _name_pattern(name: str) -> re.Pattern:
    """The name as written, case and separators aside ("LLaMA-2" finds "Llama 2"), plural or not ("LLMs", "LLM")."""
    parts = [re.escape(p) for p in re.findall(r"[^\W\d_]+|\d+", name)]      # "GPT2" finds "GPT-2"
    if parts and len(parts[-1]) > 2 and parts[-1].endswith("s"):
        parts[-1] = parts[-1][:-1] + "s?"
    return re.compile(r"(?<![^\W_])" + r"[\s\-_.]*".join(parts) + r"(?:s|es)?(?![^\W_])", re.I)


@lru_cache(maxsize=8192)
def paper_stems(paper: Paper) -> frozenset[str]:
    """The stemmed words of a paper's title and abstract."""
    return frozenset(stems(evidence_of(paper)))


@lru_cache(maxsize=8192)
def evidence_of(paper: Paper) -> str:
    """Title and abstract without the sentences that address the assistant: those mention nothing."""
    title = "" if looks_like_instruction(paper.title) else paper.title
    return " ".join([title, *evidence_sentences(paper.abstract)])


def mentions(term: Term, paper: Paper) -> bool:
    """The paper's title or abstract mentions the term: a name as written (or, for a capitalised plain word,
    by its stem), a phrase by all of its stemmed words."""
    if term.name and _name_pattern(term.text).search(evidence_of(paper)):
        return True
    plain = term.name and term.text.isalpha() and term.text[1:].islower()
    return (plain or not term.name) and bool(term.stems) and set(term.stems) <= paper_stems(paper)


def foreign_names(claim: str, cited: Sequence[Paper]) -> list[Term]:
    """The names a claim uses that none of its cited papers mentions: "MERU proposes ... [2]" where only paper 1
    is about MERU. The sentence may be backed as a whole while it gives one paper's method to another."""
    return [t for t in key_terms(claim) if t.name and not any(mentions(t, p) for p in cited)]


def quoted(terms: Sequence[Term]) -> str:
    """'A', 'A' and 'B', or 'A', 'B' and 'C'."""
    names = [f"'{t.text}'" for t in terms]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def ungrounded_names(terms: Sequence[Term], find: Callable[[Term], Iterable[Paper]], *, together: bool = True
                     ) -> tuple[list[Term], str]:
    """The question's names that no paper of the collection mentions, or that no single paper mentions together,
    with the sentence that says so; ([], "") when one paper mentions them all. `find(term)` gives the papers of
    the collection that may mention a term (a keyword search; each is checked here). A question about several
    papers (together=False) only needs each name mentioned somewhere."""
    names = list({t.text.lower(): t for t in terms if t.name}.values())
    if not names:
        return [], ""
    found = {t.text.lower(): [p for p in find(t) if mentions(t, p)] for t in names}
    absent = [t for t in names if not found[t.text.lower()]]
    if absent:
        return absent, f"No paper in the collection mentions {quoted(absent)}."
    if not together:
        return [], ""
    candidates = {p.paper_id: p for t in names for p in found[t.text.lower()]}.values()
    if any(all(mentions(t, p) for t in names) for p in candidates):
        return [], ""
    both = "both " if len(names) == 2 else "all of "
    return names, f"No paper in the collection mentions {both}{quoted(names)}."


def topic_conflicts(terms: Sequence[Term], anchor: Paper, fit: Callable[[Term, Paper], float],
                    others: Callable[[Term], Iterable[Paper]], *, min_fit: float, min_gap: float
                    ) -> list[tuple[Term, Paper]]:
    """The phrases of a question that another paper is about while the paper that would answer (`anchor`) is
    not: it never mentions them and fits them at least `min_gap` less well than a paper that fits them at
    least `min_fit` (`fit`: best cosine between the phrase and a paper's sentences). Two real topics that no
    single paper joins ("hyperbolic embeddings" for "stock returns") look like this; a paraphrase does not,
    because the paper it describes is also the one its phrases fit best."""
    out = []
    for term in terms:
        if term.name or mentions(term, anchor):
            continue
        own = fit(term, anchor)
        best = max(((fit(term, p), p) for p in others(term) if p.paper_id != anchor.paper_id),
                   key=lambda x: x[0], default=(0.0, None))
        if best[1] is not None and best[0] >= min_fit and best[0] - own >= min_gap:
            out.append((term, best[1]))
    return out
