"""`rag bench`, the speed benchmark:

  cli.py        the command: which measurements run, in what order
  measure.py    each measurement (ingest, retrieval, start-up, answers, summary)
  report.py     the targets, and the table or JSON printed
  synthetic.py  the deterministic synthetic arXiv-format corpus (also scripts/synthetic_arxiv.py)
"""
