"""A question with several asks ("What does X optimise, and on which datasets is it evaluated?") split into its
parts, so that each is answered from the evidence or named as unanswered."""
from __future__ import annotations

import re

from rag.text import numbers_in

_ASK = (r"(?:what|which|how|where|when|who|whom|whose|why|whether|is|are|was|were|does|do|did|can|could|"
        r"(?:on|in|for|at|by|from|with|to|against|of)\s+(?:what|which|how|whom))\b")
# A new ask starts after "and", "but", "also" or "plus" (a comma before it or not), or after a semicolon; a comma
# alone does not split: "Besides X, what ..." and "For the first one, what ..." ask one thing.
_SPLIT = re.compile(rf"\s*(?:;\s*(?:and|but|also|plus)?|,?\s+(?:and|but|also|plus))\s+(?={_ASK})", re.I)
# "How many ...", or "what <...> rate / size / accuracy ...": the answer is a value, so it states a number.
_NOT_A_VALUE = r"(?:method|paper|model|approach|technique|dataset|benchmark|framework|work|study|architecture|loss|algorithm|task)s?"
QUANTITY = re.compile(
    r"\b(?:how (?:many|much|large|long|fast|big|small|often)|by how|"
    rf"(?:what|which)\s+(?!{_NOT_A_VALUE}\b)(?:is\s+the\s+|are\s+the\s+|was\s+the\s+)?(?:[\w-]+\s+){{0,2}}?"
    r"(?:rate|size|number|amount|count|percentage|percent|ratio|fraction|share|proportion|accuracy|score|error|auc|f1|"
    r"bleu|rouge|perplexity|speed-?up|improvement|dimensions?|dimensionality|temperature|budget|cost|duration|length|"
    r"latency|throughput|precision|recall|reduction|gain|increase|decrease|drop)\b)", re.I)


def split_parts(question: str) -> list[str]:
    """The question's asks, each as a question of its own; one part when it asks one thing."""
    pieces = [p.strip(" ,;") for p in _SPLIT.split(question.strip()) if p.strip(" ,;")]
    if len(pieces) < 2:
        return [question.strip()]
    parts = [p if p.endswith("?") else p.rstrip(".!") + "?" for p in pieces]
    return [p[:1].upper() + p[1:] for p in parts]


def asks_quantity(part: str) -> bool:
    """"How many ...", "by how much ...": an answer to it states a number."""
    return bool(QUANTITY.search(part)) and not numbers_in(part)
