"""Write N synthetic papers in the arXiv metadata snapshot's JSON-lines format (deterministic).

    .venv/bin/python scripts/synthetic_arxiv.py 20000 /tmp/arxiv-20k.jsonl

The same papers `rag bench` ingests: ML-flavoured abstracts of 150-250 words, categories (cs.LG most
often), a first-version date between 2015 and 2025 and a later update_date.
"""
import argparse
from pathlib import Path

from eval.bench.synthetic import synthetic_papers, write_arxiv_jsonl

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("n", type=int, help="number of papers")
parser.add_argument("out", type=Path, help="output .jsonl file")
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()
write_arxiv_jsonl(synthetic_papers(args.n, seed=args.seed), args.out)
print(f"wrote {args.n} records to {args.out}")
