"""Fusion of rankings (issue #3), on hand-made lists."""

from __future__ import annotations

import pytest

from papertrend.search.hybrid import convex, fuse, minmax, rrf
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
