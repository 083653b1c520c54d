"""Which path answers a question, from its shape alone: a topic request takes the summary path, a question
about several papers the multi-paper path, anything else the single-paper path. The decision is shown in
`--json` ("route") and in the UI."""
from __future__ import annotations

import re

SINGLE, MULTI, SUMMARY = "single", "multi", "summary"

_SUMMARY = re.compile(
    r"^\s*(?:please\s+)?(?:summari[sz]e|give\s+(?:me\s+)?(?:an?\s+)?(?:overview|summary)|(?:an?\s+)?overview\s+of|"
    r"survey|review\s+(?:the|what)|what\s+does\s+the\s+collection\s+say|what\s+do\s+(?:the|these)\s+papers\s+say)\b",
    re.I)
_PLURAL = r"(?:papers|works|studies|articles|publications)"
_MULTI = re.compile(
    rf"\b(?:which|what|how\s+many)\s+(?:\w+\s+){{0,2}}?{_PLURAL}\b"       # "which papers", "what other methods"
    r"|\bcompar\w*\b[^?]*\b(?:and|with|to|versus|vs)\b|\bdiffer(?:s|ence|ences)?\b|\bdifferent\s+from\b"
    r"|\bcontrast\b|\bversus\b|\bvs\.?\s"
    r"|\b(?:each|both)\b(?!\s+(?:layer|step|token|class|image|sample|input|of\s+(?:the\s+)?(?:two|layers|steps)))"
    r"|\bin\s+common\b|\b(?:similarities|similar\s+to\s+each\s+other)\b", re.I)


def route_question(question: str) -> str:
    """"summary", "multi" or "single"."""
    if _SUMMARY.search(question):
        return SUMMARY
    if _MULTI.search(question):
        return MULTI
    return SINGLE
