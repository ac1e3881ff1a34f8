"""What the recommendation unit tests share (issue #13): random unit vectors in D dimensions (seeded),
two directions A and B, a 1,000-paper background, and candidates and libraries built from vectors."""

from __future__ import annotations

import numpy as np

from papertrend.library import recommend as rec

D = 32
RNG = np.random.default_rng(13)


def unit(x: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1, float32 as stored vectors are."""
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def near(direction: np.ndarray, n: int, noise: float = 0.15, *, rng: np.random.Generator = RNG) -> np.ndarray:
    """n unit vectors scattered around a direction."""
    return unit(direction + noise * rng.standard_normal((n, D)))


A, B = unit(RNG.standard_normal(D)), unit(RNG.standard_normal(D))
BACKGROUND = rec.Background(vectors=unit(RNG.standard_normal((1000, D))))


def candidates(
    vectors: np.ndarray,
    *,
    texts: list[str] | None = None,
    authors: list[list[str]] | None = None,
    categories: list[list[str]] | None = None,
    ids: list[str] | None = None,
) -> rec.Candidates:
    """Candidates with these vectors and plain defaults for the rest."""
    n = len(vectors)
    return rec.Candidates(
        ids=ids or [f"2401.{i:05d}" for i in range(n)],
        vectors=vectors,
        texts=texts or ["a paper"] * n,
        authors=authors or [["Someone Else"]] * n,
        categories=categories or [["cs.CV"]] * n,
    )


def library(vectors: np.ndarray, **kw: object) -> rec.Profile:
    """A reader whose saved papers have these vectors."""
    return rec.Profile(positives=vectors, positive_titles=[f"Saved {i}" for i in range(len(vectors))], **kw)  # type: ignore[arg-type]
