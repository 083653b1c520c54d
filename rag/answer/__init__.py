"""From retrieved papers to a checked, cited answer:

  pipeline.py    the entry point: validates a question and routes it (route.py) to one of the paths below
  route.py       single paper, several papers, or a topic summary, from the question's shape
  single.py      a question about one paper, step by step: retrieve, gate, context, generate, verify, fill
  multi.py       a question about several papers: one checked sentence per relevant paper
  summarize.py   a cited summary across every relevant paper
  policy.py      when to refuse before generating: question checks, the retrieval evidence gate
  grounding.py   the question's key terms; names no paper mentions; topics no single paper joins
  verify.py      each draft sentence checked before it is shown: supported, responsive, new, third person
  citations.py   does a paper back a sentence? SupportChecker and check_citations
  conversation.py  follow-ups: the earlier paper a question refers to
  parts.py       a question's several asks
  voice.py       third person, first-person and echo detection
  outcome.py     the Answer or the refusal, as plain data
  prompt.py      chat messages from the prompts/*.txt templates
  selection.py   which papers a topic concerns (relevance cut-off) and the sentences of each that say so
  drafts.py      what the model wrote, made usable (tidied, renumbered, replaced by extractive sentences)
"""
