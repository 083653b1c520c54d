"""Which papers a topic (or a question about several papers) concerns, and the sentences of each that say so.

Shared by summaries and multi-paper answers: a relevance cut-off over a retrieved pool, then per-paper evidence.
"""
from __future__ import annotations

import re

from typing import Callable, Sequence

from rag.answer.citations import SupportChecker
from rag.settings import SummaryConfig
from rag.text import split_sentences
from rag.types import Hit, PaperEvidence

_PAPERS = r"(?:the\s+|these\s+|those\s+)?(?:collection|papers?|corpus|works?|studies|literature)"
# The words of a topic request that only add noise to retrieval: "Summarize what the collection says about".
_TOPIC_REQUEST = re.compile(
    r"^\s*(?:please\s+)?(?:(?:summari[sz]e|describe|give\s+(?:me\s+)?an?\s+overview\s+of|overview\s+of|survey)\s*:?\s*)?"
    rf"(?:(?:what|how)\s+{_PAPERS}(?:\s+in\s+the\s+collection)?\s+"
    r"(?:says?|say|applies|apply|uses?|treats?|handles?)\s+(?:about\s+|on\s+)?"
    rf"|(?:what|which)\s+(?:approaches|methods|ideas)\s+do\s+{_PAPERS}\s+(?:take|use|propose)\s+(?:to|for|on)\s+"
    rf"|the\s+(?:papers?|work|research|literature|methods?)\s+(?:in\s+the\s+collection\s+)?(?:on|about)\s+)?",
    re.I)
_TRAILER = re.compile(rf"[\s,]*(?:(?:in|from|across)\s+{_PAPERS}|according\s+to\s+{_PAPERS})[\s.?!]*$", re.I)


def topic_query(topic: str) -> str:
    """The topic without a leading "Summarize what the collection says about" (those words only add noise)."""
    stripped = _TRAILER.sub("", _TOPIC_REQUEST.sub("", topic).strip().rstrip(".?!")).strip()
    return stripped or topic.strip()


def apply_cutoff(pool: Sequence[Hit], config: SummaryConfig,
                 support: Callable[[Hit], float] | None = None) -> tuple[list[Hit], list[Hit]]:
    """(kept, left_out): papers passing the relevance cut-off (best first, bounded), and the next ones below it.

    `support(hit)` scores how well the paper's abstract backs the topic; it is asked only for papers that pass
    the retrieval conditions, and without it the support condition is skipped.
    """
    if not pool:
        return [], []
    best = max(h.score for h in pool)
    passes = [h.score >= config.min_relative * best and h.dense >= config.min_dense
              and (support is None or support(h) >= config.min_support) for h in pool]
    kept = [h for h, ok in zip(pool, passes) if ok][:config.max_papers]
    kept_ids = {h.paper.paper_id for h in kept}
    left_out = [h for h in pool if h.paper.paper_id not in kept_ids and h.score > 0][:config.left_out]
    return kept, left_out


def extract_evidence(topic: str, hit: Hit, checker: SupportChecker, vector: Sequence[float], *,
                     max_sentences: int = 3, max_words: int = 60) -> tuple[list[str], str]:
    """(quotes, best): 1..max_sentences exact sentences of the abstract on the topic, and the closest one."""
    best = checker.support(topic, hit.paper, vector).quote
    chosen = split_sentences(checker.relevant_sentences(topic, hit.paper, max_words=max_words, vector=vector))
    chosen = [s for s in chosen if s in hit.paper.abstract] or [best]
    if best not in chosen:
        chosen = [best] + chosen
    while len(chosen) > max_sentences:   # drop the latest sentence that is not the best one
        chosen.pop(max(i for i, s in enumerate(chosen) if s != best))
    return chosen, best


def paper_evidence(marker: int, topic: str, hit: Hit, checker: SupportChecker, vector: Sequence[float],
                   config: SummaryConfig) -> PaperEvidence:
    """One kept paper's evidence: its sentences on the topic, and the closest one."""
    quotes, best = extract_evidence(topic, hit, checker, vector, max_sentences=config.quotes_per_paper,
                                    max_words=config.quote_words)
    return PaperEvidence(marker=marker, hit=hit, quotes=quotes, best=best)
