"""The per-sentence checks of rag.answer.verify: a name is only given to a paper that mentions it."""
from rag.answer.citations import SupportChecker
from rag.answer.grounding import foreign_names
from rag.answer.verify import Verifier
from rag.embed import HashEmbedder
from rag.types import Hit, Paper

MERU = Paper("meru", "Hyperbolic Image-Text Representations",
             "We propose MERU, a contrastive model that yields hyperbolic representations of images and text.")
HYPCD = Paper("hypcd", "Hyperbolic Category Discovery",
              "We propose HypCD, a hyperbolic framework for generalized category discovery. It uses hyperbolic "
              "distance and angle between samples to learn hierarchy-aware representations.")


def test_names_the_cited_papers_never_mention_are_foreign():
    assert [t.text for t in foreign_names("MERU uses hyperbolic distance between samples.", [HYPCD])] == ["MERU"]
    assert foreign_names("HypCD uses hyperbolic distance between samples.", [HYPCD]) == []
    assert foreign_names("The authors use hyperbolic distance.", [HYPCD]) == []      # capital at the start


def test_a_sentence_that_gives_one_papers_method_to_another_is_not_shown():
    hits = [Hit(paper=MERU, passages=[MERU.abstract], score=1.0), Hit(paper=HYPCD, passages=[HYPCD.abstract],
                                                                       score=0.9)]
    verifier = Verifier("How do MERU and HypCD differ?", ["How do MERU and HypCD differ?"], hits,
                        SupportChecker(HashEmbedder()))
    # Backed as a whole by paper 2, which names HypCD; but paper 2 never mentions MERU.
    assert verifier.check("MERU, like HypCD, uses hyperbolic distance and angle between samples to learn "
                          "hierarchy-aware representations [2].") == []
    assert "'MERU'" in verifier.rejected[-1][1]
    shown = verifier.check("HypCD uses hyperbolic distance and angle between samples to learn hierarchy-aware representations [2].")
    assert shown and shown[0].startswith("HypCD")
