"""Fusing ranked lists into one (issue #3). Pure functions: rankings in, one ranking out.

Two fusions are offered and chosen between by bench/quality.py on SciFact's train split:
- reciprocal rank fusion (Cormack et al. 2009): score = Σ w_i / (k + rank_i); ignores raw scores;
- convex combination of normalised scores: score = Σ w_i · norm(score_i), where a list's scores are
  min-max normalised over its own top results and a paper missing from a list gets 0 there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from papertrend.types import Hit

Fusion = Literal["rrf", "convex"]


def _weights(n: int, weights: Sequence[float] | None) -> Sequence[float]:
    if weights is None:
        return [1.0] * n
    if len(weights) != n:
        raise ValueError(f"{n} rankings but {len(weights)} weights")
    return weights


def _ordered(scores: dict[str, float], first_seen: dict[str, int]) -> list[Hit]:
    # Ties keep the order in which papers first appeared, so results are deterministic.
    ranked = sorted(scores.items(), key=lambda kv: (-kv[1], first_seen[kv[0]]))
    return [Hit(pid, score) for pid, score in ranked]


def rrf(
    rankings: Sequence[Sequence[Hit]], *, k: float = 60.0, weights: Sequence[float] | None = None
) -> list[Hit]:
    """Reciprocal rank fusion of best-first rankings."""
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    for ranking, w in zip(rankings, _weights(len(rankings), weights), strict=True):
        for rank, hit in enumerate(ranking, start=1):
            first_seen.setdefault(hit.paper_id, len(first_seen))
            scores[hit.paper_id] = scores.get(hit.paper_id, 0.0) + w / (k + rank)
    return _ordered(scores, first_seen)


def minmax(hits: Sequence[Hit]) -> dict[str, float]:
    """Scores rescaled to [0, 1] within the list (all 1.0 when they are equal)."""
    if not hits:
        return {}
    values = [h.score for h in hits]
    lo, hi = min(values), max(values)
    if hi == lo:
        return {h.paper_id: 1.0 for h in hits}
    return {h.paper_id: (h.score - lo) / (hi - lo) for h in hits}


def convex(rankings: Sequence[Sequence[Hit]], *, weights: Sequence[float] | None = None) -> list[Hit]:
    """Weighted sum of min-max normalised scores."""
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    for ranking, w in zip(rankings, _weights(len(rankings), weights), strict=True):
        for pid, value in minmax(ranking).items():
            first_seen.setdefault(pid, len(first_seen))
            scores[pid] = scores.get(pid, 0.0) + w * value
    return _ordered(scores, first_seen)


def fuse(
    rankings: Sequence[Sequence[Hit]],
    *,
    fusion: Fusion,
    weights: Sequence[float] | None = None,
    rrf_k: float = 60.0,
) -> list[Hit]:
    """Fuse with the named method."""
    if fusion == "rrf":
        return rrf(rankings, k=rrf_k, weights=weights)
    return convex(rankings, weights=weights)
