"""Guessing a query's language (#14)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papertrend.search.language import guess, note
from papertrend.search.query import parse_query, ranking_terms


@pytest.mark.parametrize(
    ("query", "language"),
    [
        ("modèles de langage pour la traduction automatique", "French"),
        ("agentes que simulan el comportamiento humano", "Spanish"),
        ("Große Sprachmodelle für die Übersetzung", "German"),
        ("大语言模型的推理能力", "Chinese"),
        ("мультимодальные модели", "Cyrillic script"),
    ],
)
def test_other_languages_are_named(query: str, language: str) -> None:
    assert guess(query) == language
    assert language in note(language)


@pytest.mark.parametrize(
    "query",
    [
        "LLM agents that simulate human behaviour",
        "de novo protein design",
        "die casting in the factory",
        "mixture of experts routing",
        "Transformer",
        "",
        "123 !!",
    ],
)
def test_english_and_bare_terms_are_english(query: str) -> None:
    assert guess(query) is None


def test_a_foreign_query_ranks_by_its_content_words_only() -> None:
    parsed = parse_query("modèles de langage pour la traduction")
    assert [u[0] for u in ranking_terms(parsed, "any")] == ["modèles", "langage", "traduction"]
    # The same words in an English query are kept: "la" may be lanthanum, "de" de-noising.
    assert ("de",) in ranking_terms(parse_query("de novo design"), "any")


@given(st.text(max_size=200))
def test_any_text_gets_a_guess_or_none(text: str) -> None:
    assert guess(text) is None or isinstance(guess(text), str)
