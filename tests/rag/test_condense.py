"""Follow-ups made standalone for retrieval."""
from rag.condense import needs_history, standalone_query


def test_condense_rules():
    assert needs_history("What dataset did they introduce?")
    assert not needs_history("Which dataset of 3D renderings has 55 object classes?")
    h = [{"role": "user", "content": "About SIE?"}, {"role": "assistant", "content": "SIE predicts [1]."}]
    assert standalone_query("What did they use?", h) == "What did they use? About SIE? SIE predicts."
    assert standalone_query("What did they use?", []) == "What did they use?"
