"""Generator backends behind one Protocol (base.Generator), chosen by name with RAG_BACKEND (rag.build.GENERATORS):

  base.py          the Protocol, FakeGenerator (tests, `fake`), copy_first_source
  transformers.py  the default: a local model run by transformers on the CPU
  llamacpp.py      a GGUF run in-process by llama.cpp (optional extra)
  openai.py        any OpenAI-compatible server (vLLM, Ollama, llama.cpp server), set by RAG_LLM_BASE_URL
  model_files.py   locating, checking and converting model weights (the bundled GGUF, folders, hub ids)
"""
