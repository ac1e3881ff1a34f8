"""Fusing ranked lists into one (issue #3). Pure functions: rankings in, one ranking out.

Two fusions are offered and chosen between by bench/quality.py on SciFact's train split:
- reciprocal rank fusion (Cormack et al. 2009): score = Σ w_i / (k + rank_i); ignores raw scores;
- convex combination of normalised scores: score = Σ w_i · norm(score_i), where a list's scores are
  normalised over its own top results (min-max, or divided by the best: `Norm`) and a paper missing
  from a list gets 0 there.

Before fusing, the search fills in the semantic score of every keyword hit that semantic search did
not return (`completed`): its exact cosine, not 0 (#14).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from papertrend.types import Hit

Fusion = Literal["rrf", "convex"]
# "minmax": (s - min) / (max - min), the weakest hit of the list gets 0 like a paper it lacks;
# "max": s / max, for scores that are 0 where nothing matched (BM25), so the weakest keyword match
# still counts above a paper keyword search did not find.
Norm = Literal["minmax", "max"]


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


def scaled(hits: Sequence[Hit]) -> dict[str, float]:
    """Scores divided by the best (min-max when the best is not positive)."""
    best = max((h.score for h in hits), default=0.0)
    if best <= 0:
        return minmax(hits)
    return {h.paper_id: h.score / best for h in hits}


def completed(ranking: Sequence[Hit], scores: dict[str, float]) -> list[Hit]:
    """The ranking with the papers of `scores` it lacks added at their scores, best first."""
    have = {h.paper_id for h in ranking}
    extra = [Hit(pid, score) for pid, score in scores.items() if pid not in have]
    if not extra:
        return list(ranking)
    return sorted([*ranking, *extra], key=lambda h: -h.score)


def convex(
    rankings: Sequence[Sequence[Hit]],
    *,
    weights: Sequence[float] | None = None,
    norms: Sequence[Norm] | None = None,
) -> list[Hit]:
    """Weighted sum of normalised scores (min-max unless `norms` says otherwise per list)."""
    scores: dict[str, float] = {}
    first_seen: dict[str, int] = {}
    kinds: Sequence[Norm] = norms if norms is not None else ["minmax"] * len(rankings)
    for ranking, w, norm in zip(rankings, _weights(len(rankings), weights), kinds, strict=True):
        for pid, value in (scaled(ranking) if norm == "max" else minmax(ranking)).items():
            first_seen.setdefault(pid, len(first_seen))
            scores[pid] = scores.get(pid, 0.0) + w * value
    return _ordered(scores, first_seen)


def fuse(
    rankings: Sequence[Sequence[Hit]],
    *,
    fusion: Fusion,
    weights: Sequence[float] | None = None,
    rrf_k: float = 60.0,
    norms: Sequence[Norm] | None = None,
) -> list[Hit]:
    """Fuse with the named method."""
    if fusion == "rrf":
        return rrf(rankings, k=rrf_k, weights=weights)
    return convex(rankings, weights=weights, norms=norms)
