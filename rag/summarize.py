"""A cited summary across every relevant paper: topic -> retrieve a pool -> relevance cut-off -> extractive
evidence per paper -> map (one paragraph per batch of papers) + reduce (an overview sentence over all papers)
-> check every sentence, repair or replace what its source does not back -> Summary.

The local model is small and cites unreliably, so the text it writes is only kept sentence by sentence where
the support check backs it; anything else becomes an extractive sentence quoting the paper, or is flagged.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Sequence

from rag.citations import (MARKER, SupportChecker, check_citations, content_words, keep_valid_markers,
                           markers_in, split_sentences, strip_markers)
from rag.filters import describe
from rag.generate import Generator
from rag.pipeline import AbstainPolicy, check_question, is_cannot_answer
from rag.prompt import CANNOT_ANSWER, format_sources, load_template
from rag.retrieve import HybridRetriever, coverage
from rag.types import Answer, Citation, Hit, Message

# on_progress(message, done, total): e.g. ("reading papers", 7, 12); a UI can draw a bar from done/total.
Progress = Callable[[str, int, int], None]

_CONTRIBUTION = re.compile(r"\b(?:we|this (?:paper|work))\s+(?:propose|introduce|present|develop|show|prove|find|"
                           r"provide|design|formalize)", re.I)

_PAPERS = r"(?:the\s+|these\s+|those\s+)?(?:collection|papers?|corpus|works?|studies|literature)"
_INSTRUCTION = re.compile(
    r"^\s*(?:please\s+)?(?:(?:summari[sz]e|describe|give\s+(?:me\s+)?an?\s+overview\s+of|overview\s+of|survey)\s*:?\s*)?"
    rf"(?:(?:what|how)\s+{_PAPERS}(?:\s+in\s+the\s+collection)?\s+"
    r"(?:says?|say|applies|apply|uses?|treats?|handles?)\s+(?:about\s+|on\s+)?"
    rf"|(?:what|which)\s+(?:approaches|methods|ideas)\s+do\s+{_PAPERS}\s+(?:take|use|propose)\s+(?:to|for|on)\s+"
    rf"|the\s+(?:papers?|work|research|literature|methods?)\s+(?:in\s+the\s+collection\s+)?(?:on|about)\s+)?",
    re.I)
_TRAILER = re.compile(rf"[\s,]*(?:(?:in|from|across)\s+{_PAPERS}|according\s+to\s+{_PAPERS})[\s.?!]*$", re.I)


def topic_query(topic: str) -> str:
    """The topic without a leading "Summarize what the collection says about" (those words only add noise)."""
    stripped = _TRAILER.sub("", _INSTRUCTION.sub("", topic).strip().rstrip(".?!")).strip()
    return stripped or topic.strip()


@dataclass(frozen=True)
class SummaryConfig:
    """How a summary is built.

    The relevance cut-off was calibrated with `python -m eval.calibrate` (retrieval only) on the dev set's 9
    summary questions and then, after one check, together with the 10 held-out topics in
    eval/summary_holdout.jsonl: see that module's docstring for the figures.
    """
    pool: int = 30                 # candidates retrieved before the cut-off
    max_papers: int = 20           # at most this many papers are summarised
    min_relative: float = 0.50     # keep a paper whose fused score is >= this share of the best paper's
    min_dense: float = 0.0         # ... whose best passage cosine to the topic is at least this
    min_support: float = 0.45      # ... and whose abstract backs the topic (SupportChecker score) this well
    left_out: int = 5              # papers just below the cut-off listed in the result
    quotes_per_paper: int = 3      # evidence: 1..3 exact abstract sentences per paper
    quote_words: int = 60          # ... within this many words (the best sentence always counts)
    contribution_words: int = 30   # the table's one line per paper
    batch_size: int = 5            # papers per map step; <= this many papers means a single pass
    batch_sentences: int = 4       # sentences asked for per batch paragraph
    batch_tokens: int = 150        # max new tokens per batch paragraph
    overview: bool = True          # reduce step: one model-written overview over all papers when batched
    overview_tokens: int = 80      # max new tokens of the overview (reduce) step
    unsupported: str = "replace"   # "replace": by an extractive sentence; "flag": keep, marked (unverified)
    cover_all: bool = True         # add an extractive sentence for each kept paper the text never cites


@dataclass
class PaperEvidence:
    """One kept paper: its marker in the summary, the hit, and the sentences of its abstract on the topic."""
    marker: int
    hit: Hit
    quotes: list[str]              # exact abstract sentences, original order
    best: str                      # the single sentence closest to the topic (one of quotes)

    @property
    def contribution(self) -> str:
        """The quote that states what the paper does ("We propose ..."), else the one closest to the topic."""
        return next((q for q in self.quotes if _CONTRIBUTION.search(q)), self.best)

    def to_json(self, contribution_words: int = 30) -> dict:
        return {"marker": self.marker, "paper_id": self.hit.paper.paper_id, "title": self.hit.paper.title,
                "contribution": trim_words(self.contribution, contribution_words), "quote": " ".join(self.quotes),
                "quotes": list(self.quotes), "score": round(self.hit.score, 4), "dense": round(self.hit.dense, 4)}


@dataclass
class Summary(Answer):
    """An Answer (the contract's fields) plus the per-paper table, the near misses and flagged sentences."""
    papers: list[PaperEvidence] = field(default_factory=list)
    left_out: list[Hit] = field(default_factory=list)
    flagged: list[dict] = field(default_factory=list)     # {"sentence", "reason", "markers"}
    contribution_words: int = 30

    def to_json(self) -> dict:
        out = Answer.to_json(self)
        out["papers"] = [p.to_json(self.contribution_words) for p in self.papers]
        out["left_out"] = [{"paper_id": h.paper.paper_id, "title": h.paper.title, "score": round(h.score, 4),
                            "dense": round(h.dense, 4)} for h in self.left_out]
        out["flagged"] = list(self.flagged)
        return out


def trim_words(text: str, n: int) -> str:
    words = text.split()
    return text if len(words) <= n else " ".join(words[:n]).rstrip(",;:") + " …"


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


def extractive_sentence(title: str, quote: str, marker: int) -> str:
    """A sentence that is backed by construction: the paper's own words, cited."""
    body = quote.strip().rstrip(".!?;:").strip()
    return f'{title} reports: "{body}" [{marker}].'


def batches(items: Sequence, size: int) -> list[list]:
    """Split into near-equal batches of at most `size` (10 papers by 4 -> 4, 3, 3, not 4, 4, 2)."""
    if not items:
        return []
    n = -(-len(items) // size)
    base, extra = divmod(len(items), n)
    out, start = [], 0
    for i in range(n):
        end = start + base + (1 if i < extra else 0)
        out.append(list(items[start:end]))
        start = end
    return out


def tidy(text: str, titles: Sequence[str]) -> str:
    """The model's text without what it copied from the prompt's layout: titles run into sentences
    ("<Title> For this purpose, we ..."), list items and headings, and sentences cut off by the token limit."""
    for title in titles:
        text = re.sub(re.escape(title) + r"\s+(?=[A-Z])", "", text)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    sentences = [s for ln in lines for s in split_sentences(ln)]
    complete = [s for s in sentences if MARKER.sub("", s).rstrip()[-1:] in (".", "!", "?", '"', "'")]
    if not complete and len(lines) == 1:
        return lines[0]          # one unfinished sentence: let the support check judge it
    return " ".join(complete)


def renumber(text: str, offset: int, n_local: int) -> str:
    """Local markers [1]..[n_local] of one batch become global ones [offset+1]..; others are removed."""
    text = keep_valid_markers(text, n_local)
    return MARKER.sub(lambda m: "".join(f"[{offset + n}]" for n in markers_in(m.group(0))), text)


class Summarizer:
    """Builds a `Summary` of everything the collection says on a topic from a pipeline's parts."""

    def __init__(self, retriever: HybridRetriever, generator: Generator, checker: SupportChecker, *,
                 config: SummaryConfig = SummaryConfig(), policy: AbstainPolicy | None = AbstainPolicy(),
                 model_info: dict | None = None, max_topic_chars: int = 2000):
        self.retriever, self.generator, self.checker = retriever, generator, checker
        self.config, self.policy, self.max_topic_chars = config, policy, max_topic_chars
        self.model_info = model_info or {"generator": getattr(generator, "name", type(generator).__name__),
                                         "embedder": getattr(checker.embedder, "name", "")}

    @classmethod
    def from_pipeline(cls, pipeline, **kw) -> "Summarizer":
        """Share the pipeline's retriever, model, checker and abstention policy."""
        kw.setdefault("policy", pipeline.policy)
        kw.setdefault("model_info", pipeline.model_info)
        kw.setdefault("max_topic_chars", pipeline.max_question_chars)
        return cls(pipeline.retriever, pipeline.generator, pipeline.checker, **kw)

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
        signals = {"candidates": float(len(pool)), "kept": float(len(kept)),
                   "coverage": coverage(query, pool, self.retriever.bm25) if pool else 0.0,
                   "dense": max((h.dense for h in pool[:3]), default=0.0)}
        if kept and (not content_words(query) or self.policy and self.policy.weak_evidence(signals)):
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
            quotes, best = extract_evidence(query, hit, self.checker, vector,
                                            max_sentences=self.config.quotes_per_paper,
                                            max_words=self.config.quote_words)
            papers.append(PaperEvidence(marker=i, hit=hit, quotes=quotes, best=best))
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

    def verify(self, paragraphs: Sequence[str], papers: Sequence[PaperEvidence]
               ) -> tuple[list[list[str]], list[dict], dict[str, float]]:
        """Sentences kept (markers repaired to supported ones), replaced by extractive ones, or flagged."""
        hits = [p.hit for p in papers]
        titles = [h.paper.title for h in hits]
        out, flagged, used_quotes = [], [], set()
        counts = {"attached": 0.0, "repaired": 0.0, "replaced": 0.0, "dropped": 0.0, "flagged": 0.0}
        for paragraph in paragraphs:
            if not paragraph.strip():
                continue
            checked = check_citations(paragraph, hits, self.checker)
            counts["attached"] += checked.attached
            counts["repaired"] += checked.repaired
            kept_sentences = []
            for s in checked.sentences:
                claim = strip_markers(s["text"])
                if "best_source" not in s:          # no content words: "In summary:" and the like
                    counts["dropped"] += 1
                    continue
                cited = s["markers"]
                if _titles_in(claim, titles) >= 2:          # a list of titles, not a statement
                    counts["dropped"] += 1
                    continue
                support = {n: self.checker.support(claim, hits[n - 1].paper) for n in cited}
                good = [n for n in cited if support[n].score >= self.checker.threshold]
                if good:
                    kept_sentences.append(_with_markers(s["text"], good))   # "[1] X." -> "X [1]."
                    continue
                reason = "unsupported" if cited else "uncited"
                if self.config.unsupported == "flag":
                    counts["flagged"] += 1
                    flagged.append({"sentence": s["text"], "reason": reason, "markers": cited})
                    kept_sentences.append(_flag(s["text"]))
                    continue
                if not cited and s["best_score"] < self.checker.threshold:
                    counts["dropped"] += 1              # filler no paper backs ("Several papers study this.")
                    continue
                # The model meant the paper it cited (or, uncited, the one that backs it best but not clearly
                # enough to attach): say what that paper says, in its own words.
                target = max(cited, key=lambda n: support[n].score) if cited else s["best_source"]
                quote = support[target].quote if cited else self.checker.support(claim, hits[target - 1].paper).quote
                if (target, quote) in used_quotes or _quoted(quote, out + [kept_sentences]):
                    counts["dropped"] += 1
                    continue
                used_quotes.add((target, quote))
                counts["replaced"] += 1
                kept_sentences.append(extractive_sentence(hits[target - 1].paper.title, quote, target))
            if kept_sentences:
                out.append(kept_sentences)
        return out, flagged, counts

    def cover(self, paragraphs: list[list[str]], papers: Sequence[PaperEvidence]) -> int:
        """Append an extractive sentence for every kept paper the text does not cite yet; returns how many."""
        cited = set(markers_in(" ".join(s for p in paragraphs for s in p)))
        missing = [p for p in papers if p.marker not in cited]
        if missing:
            paragraphs.append([extractive_sentence(p.hit.paper.title, p.best, p.marker) for p in missing])
        return len(missing)

    def cite(self, text: str, papers: Sequence[PaperEvidence]) -> list[Citation]:
        """One Citation per distinct marker in `text`, in order of appearance; supported only if every
        sentence citing it is backed by that paper."""
        per_marker: dict[int, Citation] = {}
        sentences = [s for s in split_sentences(text) if markers_in(s)]
        claims = [strip_markers(_unflag(s)) for s in sentences]
        vectors = self.checker.embedder.embed(claims) if claims else []
        for sentence, claim, vector in zip(sentences, claims, vectors):
            for n in markers_in(sentence):
                if not 1 <= n <= len(papers):
                    continue
                paper = papers[n - 1].hit.paper
                s = self.checker.support(claim, paper, vector)
                ok = s.score >= self.checker.threshold
                prev = per_marker.get(n)
                if prev is None:
                    per_marker[n] = Citation(marker=n, paper_id=paper.paper_id, title=paper.title, supported=ok,
                                             quote=s.quote, score=s.score)
                else:
                    prev.supported = prev.supported and ok
                    if s.score > prev.score:
                        prev.quote, prev.score = s.quote, s.score
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

        def result(text: str, papers: list[PaperEvidence], **kw) -> Summary:
            timings["total_s"] = time.perf_counter() - t0
            timings.setdefault("first_token_s", timings["total_s"])
            return Summary(question=topic, answer=text, abstained=not papers, sources=[p.hit for p in papers],
                           timings=timings, model=self.model_info, query=query, papers=papers, left_out=left_out,
                           contribution_words=self.config.contribution_words, **kw)

        if not kept:
            text, reason = CANNOT_ANSWER, "abstain_reason_no_relevant_paper"
            if where and not signals["candidates"]:
                text, reason = (f"{CANNOT_ANSWER} No paper in the collection matches the filter ({describe(where)}).",
                                "abstain_reason_filter_matches_nothing")
            yield text
            yield result(text, [], citations=[], related=left_out[:3], evidence={**signals, reason: 1.0})
            return
        papers = self.read(query, kept, progress, vector)
        timings["read_s"] = time.perf_counter() - t0 - timings["retrieve_s"]

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
        timings["generate_s"] = time.perf_counter() - t0 - timings["retrieve_s"] - timings["read_s"]

        progress("checking citations", steps, steps)
        paragraphs, flagged, counts = self.verify(raw_paragraphs, papers)
        counts["covered"] = float(self.cover(paragraphs, papers) if self.config.cover_all else 0)
        text = "\n\n".join(" ".join(p) for p in paragraphs)
        citations = self.cite(text, papers)
        yield result(text, papers, citations=citations, flagged=flagged, evidence={**signals, **counts})

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


def _with_markers(sentence: str, markers: Sequence[int]) -> str:
    """The sentence with its markers replaced by `markers`, placed before the final stop."""
    body = MARKER.sub("", sentence).strip()
    body = re.sub(r"\s+([.,;:!?])", r"\1", body)
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1].rstrip(), body[-1]
    return f"{body} {''.join(f'[{n}]' for n in markers)}{tail}"


_FLAG = " (unverified)"


def _flag(sentence: str) -> str:
    """The sentence marked as not backed by its sources, the mark inside the sentence: "x [2] (unverified)."."""
    body = sentence.rstrip()
    tail = ""
    if body and body[-1] in ".!?":
        body, tail = body[:-1].rstrip(), body[-1]
    return f"{body}{_FLAG}{tail}"


def _unflag(sentence: str) -> str:
    return sentence.replace(_FLAG, "")


def _titles_in(text: str, titles: Sequence[str]) -> int:
    return sum(1 for t in titles if t and t in text)


def _quoted(quote: str, paragraphs: Sequence[Sequence[str]]) -> bool:
    body = quote.strip().rstrip(".!?;:").strip()
    return any(body in s for p in paragraphs for s in p)
