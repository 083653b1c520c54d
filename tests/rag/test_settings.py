"""Settings come from RAG_* variables; a bad value is a one-line error, not a traceback."""
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.settings import Settings, settings_from_env


def test_environment_and_overrides():
    s = settings_from_env({"RAG_HOME": "/tmp/x", "RAG_TOP_K": "7", "RAG_CONTEXT_PAPERS": "1", "RAG_FUSION": ""},
                          top_k=3)
    assert s.home == Path("/tmp/x") and s.store_dir == Path("/tmp/x/chroma") and s.models_dir == Path("/tmp/x/models")
    assert s.top_k == 3                    # the CLI flag wins over the environment
    assert s.policy.context_papers == 1 and s.policy.min_dense == Settings().policy.min_dense
    assert s.fusion == Settings().fusion   # empty means unset


def test_a_number_that_is_not_one_names_the_variable():
    with pytest.raises(RagError, match="RAG_MAX_NEW_TOKENS must be a whole number"):
        settings_from_env({"RAG_MAX_NEW_TOKENS": "lots"})
