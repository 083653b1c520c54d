"""When to refuse: quantity questions need a backed number, a reported metric and the numbers they name."""
import pytest

from rag.answer.policy import quantity_gaps


@pytest.mark.parametrize("question,answer,cited,gaps", [
    ("What AUC does LieGAN report?", "It finds SO(1,3) [1].", "LieGAN finds SO(1,3) symmetries.", ["metric_not_reported"]),
    ("What accuracy does it reach with 10 dimensions?", "0.9 [1].", "accuracy 0.9 with two dimensions",
     ["question_number_missing"]),
    ("How many classes does it have?", "Many [1].", "55 classes", ["no_number"]),
    ("What mean average precision does it reach?", "0.989 [1].", "a mean-average-precision of 0.989", []),
    ("What does the predictor use?", "Hypernetworks [1].", "a hypernetwork-based predictor", []),
])
def test_quantity_gaps(question, answer, cited, gaps):
    assert quantity_gaps(question, answer, cited) == gaps


def test_generic_metric_words_only_need_a_number():
    assert quantity_gaps("What ImageNet-1K linear-probe accuracy does it achieve?", "It achieves 80.3% [1].",
                         "It achieves 80.3% on ImageNet-1K with linear probe evaluation.") == []
