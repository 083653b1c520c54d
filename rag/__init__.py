"""rag: a local research assistant that answers from a collection of paper abstracts and cites them.

The flow, one direction (each arrow a step over plain data from rag.types):

    corpus files -> formats.py, records.py -> corpus.py (+ filters.py) -> ingest.py (chunk, embed) -> store.py (Chroma)
    question (+history) -> condense.py -> retrieve.py (BM25 + dense, fused) -> answer/ -> Answer -> CLI, UI, eval

Where each step lives:

  settings.py        every default and tuned threshold, with its reason (Settings, AbstainPolicy, SupportConfig, ...)
  types.py           plain data: Paper, Chunk, Hit, Citation, CheckedSentence, AbstainReason, Answer, Summary
  text.py            sentences, citation markers, content words, numbers, names, instruction detection
  corpus.py          the collection: the bundled abstracts or the user's files, filtered, duplicates skipped
  formats.py         each file format: plain text, JSONL/arXiv snapshot, JSON, CSV, BibTeX
  records.py         one record's fields made into a Paper (dates, authors, ids), or a Skip with its reason
  filters.py         category and date filters (ingest) and year/category filters (questions)
  ingest.py          chunking (llama-index SentenceSplitter), embedding and writing in resumable batches
  store.py           the Chroma store (embedded or a server)
  embed.py           embedders: the bundled MiniLM, any sentence-transformers model, a hashing fake
  retrieve.py        THE RETRIEVER: HybridRetriever (bm25s + Chroma, fused by llama-index)
  condense.py        follow-up questions made standalone
  answer/            pipeline.py (the flow), policy.py (THE REFUSAL POLICY), citations.py (THE CITATION CHECK),
                     prompt.py (THE PROMPT, with prompts/*.txt), selection.py, drafts.py, summarize.py
  generators/        the Generator Protocol and its backends: base.py (fake), transformers.py, llamacpp.py, openai.py
  hardware.py        cores and bfloat16 support
  build.py           the one place that builds the real parts from a Settings
  console.py         terminal output of answers and summaries
  cli.py             the `rag` command (the only module that may dispatch to ui/ and eval/)
  errors.py          user-facing errors: one line each, never a traceback
"""
