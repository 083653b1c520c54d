"""Prompt templates, kept as text files and loaded with importlib.resources."""
