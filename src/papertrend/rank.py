"""Trending score and other pure ranking functions: (papers, now) → best-first hits (issue #4).

Rankers return the same shape as searches, `list[Hit]` best first (DESIGN §3), so pages, the API,
feeds and the digest can take either. Nothing here touches the database or the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from papertrend.types import Hit

DEFAULT_GRAVITY = 1.8
DEFAULT_OFFSET_HOURS = 2.0


@dataclass(frozen=True, slots=True)
class Candidate:
    """What ranking needs to know of one paper: its votes and when it was listed."""

    paper_id: str
    posted_at: datetime
    hf_upvotes: int = 0
    # Upvotes cast on this service (papers.votes; issue #4, part 2).
    own_votes: int = 0

    @property
    def votes(self) -> int:
        return self.hf_upvotes + self.own_votes


@dataclass(frozen=True, slots=True)
class TrendParams:
    """How fast age outweighs votes: `gravity` is the exponent, `offset_hours` keeps new papers finite."""

    gravity: float = DEFAULT_GRAVITY
    offset_hours: float = DEFAULT_OFFSET_HOURS


def age_hours(*, posted_at: datetime, now: datetime) -> float:
    """Hours from listing to `now`; never negative (a clock behind a source's dates is not a bonus)."""
    return max(0.0, (now - posted_at).total_seconds() / 3600.0)


def trending_score(*, votes: int, age_hours: float, params: TrendParams = TrendParams()) -> float:
    """(votes + 1) / (age_hours + offset_hours) ** gravity, the Hacker News form."""
    return (max(votes, 0) + 1) / float((max(age_hours, 0.0) + params.offset_hours) ** params.gravity)


def _ordered(scored: Iterable[tuple[float, Candidate]]) -> list[Hit]:
    # Ties fall back to the newer arXiv id first, the order the daily listings use, so a day's
    # trending page and its most-upvoted listing agree when every paper has the same age.
    ranked = sorted(scored, key=lambda sc: (sc[0], sc[1].paper_id), reverse=True)
    return [Hit(c.paper_id, score) for score, c in ranked]


def trending(
    candidates: Iterable[Candidate], *, now: datetime, params: TrendParams = TrendParams()
) -> list[Hit]:
    """Candidates by trending score, best first."""
    return _ordered(
        (trending_score(votes=c.votes, age_hours=age_hours(posted_at=c.posted_at, now=now), params=params), c)
        for c in candidates
    )


def most_upvoted(candidates: Iterable[Candidate]) -> list[Hit]:
    """Candidates by votes (imported plus our own), most first."""
    return _ordered((float(c.votes), c) for c in candidates)


def newest(candidates: Iterable[Candidate]) -> list[Hit]:
    """Candidates by listing time, newest first; the score is the POSIX timestamp."""
    return _ordered((c.posted_at.timestamp(), c) for c in candidates)


def explain(params: TrendParams = TrendParams()) -> str:
    """The formula in one sentence, as the trending page shows it."""
    return (
        f"Each paper scores (votes + 1) ÷ (hours since it was listed + {params.offset_hours:g})"
        f"^{params.gravity:g}, where votes are its Hugging Face upvotes plus upvotes here, so new papers "
        "with a few votes can outrank old ones with many."
    )
