"""British and American spellings (#14): the pair list, query expansion, the embedded text."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from papertrend.search.embedder import query_text
from papertrend.search.query import parse_query, ranking_terms
from papertrend.search.spelling import american, variants
from tests.unit.keyword_support import build, matches


@pytest.mark.parametrize(
    ("british", "american_"),
    [
        ("behaviour", "behavior"),
        ("optimise", "optimize"),
        ("optimisation", "optimization"),
        ("modelling", "modeling"),
        ("analyse", "analyze"),
        ("centre", "center"),
        ("defence", "defense"),
        ("labelled", "labeled"),
        ("catalogue", "catalog"),
    ],
)
def test_pairs_go_both_ways(british: str, american_: str) -> None:
    assert american_ in variants(british)
    assert british in variants(american_)
    assert variants(british.upper()) == variants(british)


@pytest.mark.parametrize(
    "word", ["four", "fourth", "for", "tour", "tours", "filled", "court", "analyses", "precise"]
)
def test_false_pairs_are_not_made_up(word: str) -> None:
    assert variants(word) == ()


def test_american_keeps_case_and_the_rest_of_the_text() -> None:
    assert american("Modelling Behaviour, OPTIMISE colours; for 4 tours") == (
        "Modeling Behavior, OPTIMIZE colors; for 4 tours"
    )


def test_both_spellings_embed_the_same_text() -> None:
    assert query_text("LLM agents that simulate human  behaviour") == query_text(
        "LLM agents that simulate human behavior"
    )


def test_any_mode_ranks_by_every_spelling_in_both_queries() -> None:
    british = ranking_terms(parse_query("human behaviour modelling"), "any")
    american_ = ranking_terms(parse_query("human behavior modeling"), "any")
    assert (
        {u[0] for u in british}
        == {u[0] for u in american_}
        == {
            "human",
            "behaviour",
            "behavior",
            "modelling",
            "modeling",
        }
    )


DOCS = [
    ("We optimize colour models", "", ""),
    ("We optimise color models", "", ""),
    ("We optimize models", "", ""),
    ("Behavior cloning", "", ""),
]


def test_all_mode_requires_any_spelling_and_exclusions_cover_both() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        index = build(Path(tmp), DOCS)
        assert matches(index, "optimise -colour", "all") == [3]


def test_quoted_phrases_stay_as_written() -> None:
    parsed = parse_query('"behaviour cloning"')
    assert parsed.phrases == (("behaviour", "cloning"),)
    with tempfile.TemporaryDirectory() as tmp:
        index = build(Path(tmp), DOCS)
        assert matches(index, '"behaviour cloning"') == []
        assert matches(index, "behaviour cloning") == [4]
