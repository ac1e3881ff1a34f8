"""Fusion of rankings (issue #3), on hand-made lists."""

from __future__ import annotations

import pytest

from papertrend.search.hybrid import completed, convex, fuse, minmax, rrf, scaled
from papertrend.types import Hit


def hits(*ids: str, start: float = 10.0) -> list[Hit]:
    return [Hit(pid, start - i) for i, pid in enumerate(ids)]


def test_rrf_rewards_agreement() -> None:
    fused = rrf([hits("a", "b", "c"), hits("c", "b", "d")], k=60)
    assert [h.paper_id for h in fused][:2] == ["c", "b"]
    scores = {h.paper_id: h.score for h in fused}
    assert scores["b"] == pytest.approx(2 / 62)
    assert scores["c"] == pytest.approx(1 / 63 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert set(scores) == {"a", "b", "c", "d"}


def test_rrf_weights_tip_the_balance() -> None:
    left, right = hits("a", "b"), hits("b", "a")
    assert rrf([left, right], weights=[2, 1])[0].paper_id == "a"
    assert rrf([left, right], weights=[1, 2])[0].paper_id == "b"


def test_ties_keep_first_seen_order() -> None:
    assert [h.paper_id for h in rrf([hits("x", "y"), hits("y", "x")])] == ["x", "y"]


def test_minmax_and_convex() -> None:
    assert minmax([Hit("a", 5), Hit("b", 3), Hit("c", 1)]) == {"a": 1.0, "b": 0.5, "c": 0.0}
    assert minmax([Hit("a", 2), Hit("b", 2)]) == {"a": 1.0, "b": 1.0}
    assert minmax([]) == {}
    fused = convex([[Hit("a", 10), Hit("b", 0)], [Hit("b", 0.9), Hit("c", 0.1)]], weights=[0.3, 0.7])
    scores = {h.paper_id: h.score for h in fused}
    assert scores == pytest.approx({"a": 0.3, "b": 0.7, "c": 0.0})
    assert fused[0].paper_id == "b"


def test_fuse_dispatches_and_checks_weights() -> None:
    assert fuse([hits("a")], fusion="convex") == [Hit("a", 1.0)]
    assert fuse([hits("a")], fusion="rrf", rrf_k=0)[0].score == pytest.approx(1.0)
    with pytest.raises(ValueError, match="weights"):
        rrf([hits("a"), hits("b")], weights=[1.0])


def test_completed_adds_the_papers_a_ranking_lacks_at_their_scores() -> None:
    ranking = [Hit("a", 0.9), Hit("b", 0.5)]
    assert completed(ranking, {"b": 0.1, "c": 0.7, "d": 0.2}) == [
        Hit("a", 0.9),
        Hit("c", 0.7),
        Hit("b", 0.5),  # kept at the ranking's own score
        Hit("d", 0.2),
    ]
    assert completed(ranking, {}) == ranking


def test_keyword_scores_divided_by_the_best_keep_the_weakest_match_above_a_miss() -> None:
    assert scaled([Hit("a", 8.0), Hit("b", 2.0)]) == {"a": 1.0, "b": 0.25}
    assert scaled([Hit("a", -1.0), Hit("b", -3.0)]) == {"a": 1.0, "b": 0.0}  # not positive: min-max
    words, meaning = [Hit("a", 8.0), Hit("b", 2.0)], [Hit("c", 0.9), Hit("b", 0.5), Hit("a", 0.1)]
    # With min-max, b (the weakest keyword match) counts as a miss and c, found only by meaning, ties it.
    plain = convex([words, meaning], weights=[0.5, 0.5])
    assert {h.paper_id: h.score for h in plain}["b"] == pytest.approx(0.5 * 0.5)
    fused = convex([words, meaning], weights=[0.5, 0.5], norms=["max", "minmax"])
    assert [h.paper_id for h in fused] == ["a", "c", "b"]
    assert {h.paper_id: h.score for h in fused}["b"] == pytest.approx(0.5 * 0.25 + 0.5 * 0.5)
    # A terms query's semantic weight of 0: the keyword order, then papers found only by meaning.
    only_words = fuse([words, meaning], fusion="convex", weights=[1.0, 0.0], norms=["max", "minmax"])
    assert [h.paper_id for h in only_words] == ["a", "b", "c"]
