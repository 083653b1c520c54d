"""From retrieved papers to a checked, cited answer:

  pipeline.py    the flow of one question, step by step (retrieve, gate, focus, generate, verify); routes topics to summarize.py
  policy.py      when to refuse: question checks, the evidence gate, numbers a quantity question needs
  citations.py   does a paper back a sentence? SupportChecker and check_citations
  prompt.py      chat messages from the prompts/*.txt templates
  selection.py   which papers a topic concerns (relevance cut-off) and the sentences of each that say so
  drafts.py      what the model wrote, made usable (tidied, renumbered, replaced by extractive sentences)
  summarize.py   a cited summary across every relevant paper
"""
