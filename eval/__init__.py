"""Evaluation of the pipeline (and the LlamaIndex baseline) on a question set: see CONTRACT.md."""
