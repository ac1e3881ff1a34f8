"""Fusion that fits the query: a short list of terms leans on its words (#14)."""

from __future__ import annotations

import pytest

from papertrend.search.query import query_shape
from papertrend.search.service import DEFAULT_TUNING, Tuning


@pytest.mark.parametrize(
    ("query", "shape"),
    [
        ("mixture of experts routing", "sentence"),
        ("graph neural networks molecules", "terms"),
        ("BERT", "terms"),
        ("LLM agents that simulate human behaviour", "sentence"),
        ("speculative decoding draft model verification", "sentence"),  # five words
        ("", "terms"),
    ],
)
def test_query_shapes(query: str, shape: str) -> None:
    assert query_shape(query) == shape


def test_terms_get_their_own_weights_and_sentences_keep_the_default() -> None:
    assert DEFAULT_TUNING.weights_for("graph neural networks") == pytest.approx([1.0, 0.0])
    assert DEFAULT_TUNING.weights_for("agents that use tools") == [0.5, 0.5]
    plain = Tuning(fusion="convex", keyword_weight=0.55, semantic_weight=0.45)
    assert plain.weights_for("graph neural networks") == [0.55, 0.45]
