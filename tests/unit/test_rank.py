"""The trending score and the other rankers, on hand-made cases (issue #4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papertrend.rank import (
    Candidate,
    TrendParams,
    age_hours,
    explain,
    most_upvoted,
    newest,
    trending,
    trending_score,
)

NOW = datetime(2026, 8, 22, 0, 0, tzinfo=UTC)


def listed(hours_ago: float, pid: str, hf: int = 0, own: int = 0) -> Candidate:
    return Candidate(paper_id=pid, posted_at=NOW - timedelta(hours=hours_ago), hf_upvotes=hf, own_votes=own)


def ids(hits: list) -> list[str]:  # type: ignore[type-arg]
    return [h.paper_id for h in hits]


def test_the_formula_on_known_values() -> None:
    assert trending_score(votes=0, age_hours=0) == pytest.approx(1 / 2**1.8)
    assert trending_score(votes=9, age_hours=8) == pytest.approx(10 / 10**1.8)
    assert trending_score(
        votes=9, age_hours=8, params=TrendParams(gravity=1.0, offset_hours=0.0)
    ) == pytest.approx(10 / 8)


def test_a_fresh_paper_with_few_votes_beats_an_old_one_with_many() -> None:
    fresh = listed(3, "fresh", hf=5)
    old = listed(72, "old", hf=100)
    assert ids(trending([old, fresh], now=NOW)) == ["fresh", "old"]
    # …while the plain vote count says the opposite.
    assert ids(most_upvoted([fresh, old])) == ["old", "fresh"]


def test_many_votes_still_beat_no_votes_at_a_modest_age_difference() -> None:
    assert ids(trending([listed(1, "new", hf=0), listed(12, "popular", hf=50)], now=NOW)) == [
        "popular",
        "new",
    ]


def test_gravity_decides_how_fast_age_wins() -> None:
    fresh, old = listed(2, "fresh", hf=3), listed(48, "old", hf=40)
    assert ids(trending([fresh, old], now=NOW, params=TrendParams(gravity=0.0))) == ["old", "fresh"]
    assert ids(trending([fresh, old], now=NOW, params=TrendParams(gravity=1.8))) == ["fresh", "old"]


def test_our_votes_count_with_imported_ones() -> None:
    assert listed(5, "a", hf=3, own=2).votes == 5
    imported_only = listed(5, "a", hf=4)
    with_ours = listed(5, "b", hf=3, own=2)
    assert ids(trending([imported_only, with_ours], now=NOW)) == ["b", "a"]


def test_a_listing_time_after_now_counts_as_age_zero() -> None:
    assert age_hours(posted_at=NOW + timedelta(hours=5), now=NOW) == 0.0
    future, present = listed(-5, "future", hf=1), listed(0, "present", hf=1)
    scores = {h.paper_id: h.score for h in trending([future, present], now=NOW)}
    assert scores["future"] == scores["present"]


def test_ties_fall_back_to_the_newer_id() -> None:
    same = [listed(10, "2608.00001", hf=3), listed(10, "2608.00002", hf=3)]
    assert ids(trending(same, now=NOW)) == ["2608.00002", "2608.00001"]
    assert ids(most_upvoted(same)) == ["2608.00002", "2608.00001"]


def test_newest_orders_by_listing_time_and_nothing_is_lost() -> None:
    cands = [listed(30, "b"), listed(1, "a"), listed(100, "c")]
    assert ids(newest(cands)) == ["a", "b", "c"]
    assert trending([], now=NOW) == []
    assert sorted(ids(trending(cands, now=NOW))) == ["a", "b", "c"]


def test_scores_are_best_first() -> None:
    hits = trending([listed(h, f"p{h}", hf=v) for h, v in [(1, 0), (5, 30), (50, 400), (200, 1000)]], now=NOW)
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


@given(
    votes=st.integers(min_value=0, max_value=100_000),
    more=st.integers(min_value=1, max_value=1000),
    age=st.floats(min_value=0, max_value=24 * 365, allow_nan=False),
    later=st.floats(min_value=0.01, max_value=1000, allow_nan=False),
)
def test_more_votes_raise_and_more_age_lowers_the_score(
    votes: int, more: int, age: float, later: float
) -> None:
    score = trending_score(votes=votes, age_hours=age)
    assert trending_score(votes=votes + more, age_hours=age) > score
    assert trending_score(votes=votes, age_hours=age + later) < score


def test_explain_names_the_parameters() -> None:
    text = explain(TrendParams(gravity=1.5, offset_hours=3))
    assert "(votes + 1) ÷ (hours since it was listed + 3)^1.5" in text
    assert "Hugging Face upvotes plus upvotes here" in text
