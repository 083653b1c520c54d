"""A deterministic synthetic corpus of ML-flavoured abstracts, and the arXiv snapshot format to write it in."""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path
from typing import Iterable

from rag.types import Paper

# -- the synthetic corpus ------------------------------------------------------------------------------
ADJ = ["robust", "scalable", "efficient", "sparse", "hierarchical", "contrastive", "self-supervised",
       "probabilistic", "equivariant", "adaptive", "multimodal", "federated", "causal", "generative",
       "lightweight", "interpretable", "differentiable", "Bayesian", "graph-based", "recurrent"]
METHOD = ["transformer", "diffusion model", "autoencoder", "graph neural network", "mixture of experts",
          "state space model", "normalizing flow", "policy gradient method", "retrieval model", "language model",
          "vision transformer", "kernel method", "energy-based model", "neural field", "contrastive encoder"]
TASK = ["image classification", "machine translation", "object detection", "protein folding",
        "time series forecasting", "speech recognition", "question answering", "semantic segmentation",
        "molecular property prediction", "recommendation", "code generation", "anomaly detection",
        "depth estimation", "text summarization", "link prediction", "reinforcement learning",
        "domain adaptation", "few-shot learning", "continual learning", "3D reconstruction"]
DATASET = ["ImageNet", "CIFAR-100", "COCO", "WMT14", "GLUE", "SQuAD", "LibriSpeech", "MoleculeNet", "OGB",
           "Cityscapes", "ADE20K", "KITTI", "MS MARCO", "HumanEval", "Atari", "MuJoCo", "PubMed", "ScanNet",
           "ShapeNet", "Kinetics-400"]
METRIC = ["accuracy", "F1 score", "BLEU", "mean average precision", "AUC", "perplexity", "recall",
          "word error rate", "IoU", "average return"]
CONCEPT = ["attention", "regularization", "pretraining", "fine-tuning", "distillation", "quantization",
           "data augmentation", "curriculum learning", "uncertainty estimation", "representation learning",
           "optimization", "generalization", "calibration", "pruning", "tokenization", "inductive bias",
           "sample efficiency", "scaling laws", "robustness", "long-context memory"]
CATEGORIES = ["cs.LG", "cs.LG", "cs.LG", "cs.CV", "cs.CV", "cs.CL", "cs.CL", "stat.ML", "cs.AI", "cs.RO",
              "q-bio.QM", "cs.IR"]   # cs.LG most often, as on arXiv
SYLLABLES = ["ra", "to", "mi", "ke", "lu", "vo", "sa", "ne", "di", "po", "zen", "tra", "gal", "bor", "qui", "fen"]
SUFFIXES = ["", "Net", "Former", "GPT", "-2", "++", "X", "Flow", "Diff", "BERT"]
TITLES = ["{Name}: {Adj} {Method}s for {task}", "{Adj} {concept} for {task} with {Name}",
          "{Name}: Towards {adj} {concept} in {task}", "Rethinking {concept} for {adj} {task}",
          "{Name}: {Concept} Meets {Method}s", "On the {concept} of {adj} {method}s for {task}"]
SENTENCES = [
    "{Concept} remains a central challenge for {method}s in {task}.",
    "Existing approaches rely on {concept} and scale poorly with {concept2}.",
    "Our method combines {concept} with {adj} {concept2} in a single {method}.",
    "On {dataset}, {Name} improves {metric} by {num} points over strong baselines.",
    "We evaluate on {dataset} and {dataset2}, where it reaches {pct}% {metric}.",
    "Experiments show that {concept} and {concept2} are complementary for {task}.",
    "We further analyse how {concept} affects {concept2} across {int} model sizes.",
    "The approach needs {int}x less compute than a {adj} {method}.",
    "Ablations confirm that each component of {Name} contributes to the gains.",
    "Theoretical analysis shows that {adj} {concept} yields better {concept2}.",
    "Code and models for {Name} are released to support research on {task}.",
]


def _fill(template: str, rng: random.Random, name: str) -> str:
    adj, method, concept = rng.choice(ADJ), rng.choice(METHOD), rng.choice(CONCEPT)
    return template.format(
        Name=name, adj=adj, Adj=adj[0].upper() + adj[1:], method=method, Method=method.title(),
        task=rng.choice(TASK), concept=concept, Concept=concept[0].upper() + concept[1:],
        concept2=rng.choice(CONCEPT), dataset=rng.choice(DATASET), dataset2=rng.choice(DATASET),
        metric=rng.choice(METRIC), num=f"{rng.uniform(0.5, 12):.1f}", pct=f"{rng.uniform(40, 99):.1f}",
        int=rng.randint(2, 12))


def _word(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize()


def synthetic_papers(n: int, seed: int = 0) -> list[Paper]:
    """n distinct papers with 150-250-word abstracts of ML words; the same n and seed give the same papers."""
    rng = random.Random(seed)
    papers, titles = [], set()
    for i in range(n):
        while True:
            name = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 3))).capitalize() + rng.choice(SUFFIXES)
            title = _fill(rng.choice(TITLES), rng, name)
            if title.lower() not in titles:
                break
        titles.add(title.lower())
        target = rng.randint(150, 230)            # each sentence has < 20 words: the total stays <= 250
        sentences = [_fill(SENTENCES[0], rng, name), f"We propose {name}, a {rng.choice(ADJ)} "
                     f"{rng.choice(METHOD)} for {rng.choice(TASK)}."]
        while sum(len(s.split()) for s in sentences) < target:
            sentences.append(_fill(rng.choice(SENTENCES[1:]), rng, name))
        year = rng.randint(2015, 2025)
        meta = random.Random(f"{seed}:{i}")       # its own stream, so titles and abstracts stay as they were
        categories = [meta.choice(CATEGORIES)] + ([meta.choice(CATEGORIES)] if meta.random() < 0.4 else [])
        day = date(year, meta.randint(1, 12), meta.randint(1, 28)).isoformat()
        authors = ", ".join(f"{meta.choice('ABCDEFGHJKLMNPRSTW')}. {_word(meta)}" for _ in range(meta.randint(1, 4)))
        papers.append(Paper(paper_id=f"synth-{i:06d}", title=title, abstract=" ".join(sentences), year=year,
                            categories=" ".join(dict.fromkeys(categories)), date=day, authors=authors))
    return papers


def arxiv_record(paper: Paper) -> dict:
    """The paper as a record of the arXiv metadata snapshot (id, title, abstract, authors, categories,
    versions, update_date)."""
    created = datetime.fromisoformat(paper.date).replace(hour=12, tzinfo=timezone.utc)
    return {"id": paper.paper_id, "submitter": None, "authors": paper.authors,
            "title": paper.title, "comments": None, "journal-ref": None, "doi": None,
            "categories": paper.categories, "license": None, "abstract": paper.abstract,
            "versions": [{"version": "v1", "created": format_datetime(created, usegmt=True)}],
            "update_date": (created + timedelta(days=len(paper.title) * 3)).date().isoformat()}


def write_arxiv_jsonl(papers: Iterable[Paper], path: Path) -> Path:
    """Write papers in the arXiv snapshot's JSON-lines format."""
    with Path(path).open("w", encoding="utf-8") as f:
        for p in papers:
            f.write(json.dumps(arxiv_record(p), ensure_ascii=False) + "\n")
    return Path(path)


def retrieval_queries(questions: Iterable[str], n: int = 50, seed: int = 1) -> list[str]:
    """The fixed retrieval queries: the benchmark questions, then composed topic queries."""
    rng = random.Random(seed)
    queries = list(questions)
    while len(queries) < n:
        queries.append(f"{rng.choice(ADJ)} {rng.choice(METHOD)} for {rng.choice(TASK)}" if len(queries) % 2 else
                       f"{rng.choice(CONCEPT)} in {rng.choice(TASK)} on {rng.choice(DATASET)}")
    return queries[:n]
