""" "Did you mean" from the corpus's own words (#14)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from papertrend.search.suggest import Vocabulary, correction, suggestion, vocabulary_of

TEXTS = [
    *["Transformers for vision: a transformer with attention over patches."] * 30,
    *["Diffusion models generate images."] * 12,
    *["Networks of neural networks."] * 5,
    "A transfomer once, misspelled in an abstract.",
    "Quokka dynamics.",
]


def _vocab() -> Vocabulary:
    return vocabulary_of(TEXTS)


def test_unknown_and_rare_words_are_corrected_from_the_corpus() -> None:
    vocab = _vocab()
    assert correction("tranformer", vocab) == "transformer"
    assert correction("atention", vocab) == "attention"
    assert correction("netwroks", vocab) == "networks"  # a swap of two letters is one edit
    # Held by one paper, but the fix is held by 30: still a typo.
    assert correction("transfomer", vocab) == "transformer"


def test_known_short_and_faraway_words_are_left_alone() -> None:
    vocab = _vocab()
    assert correction("transformer", vocab) is None
    assert correction("quokka", vocab) is None  # rare, but nothing common is near it
    assert correction("moe", vocab) is None  # too short to guess
    assert correction("zzzzzzzz", vocab) is None


def test_the_suggestion_keeps_the_rest_of_the_query_and_its_case() -> None:
    vocab = _vocab()
    fixed = suggestion('Tranformer "for" difusion -atention', vocab)
    assert fixed == 'Transformer "for" diffusion -attention'
    assert suggestion("transformer attention", vocab) is None


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_gives_a_suggestion_or_none(query: str) -> None:
    found = suggestion(query, _vocab())
    assert found is None or (isinstance(found, str) and found != query)
