"""Fusion variants tried for #14 and not kept, reprinted by `bench/fusion.py --variants`.

Each variant ranks one query from the lists bench/fusion.py already holds: the keyword hits and the
semantic hits completed with every keyword hit's exact cosine (`Searcher.completed`), so the pool is
the product's. Lists of terms (query.query_shape) keep the product's keyword order in every variant,
as they do in the product, so only SciFact's claims move. Pseudo-relevance feedback needs vectors:
`Feedback` reads them from the store through the Searcher's own index.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy.engine import Connection

from papertrend.search import hybrid, vectors
from papertrend.search.service import Searcher
from papertrend.types import Hit

# (keyword hits, completed semantic hits) → one best-first ranking.
Variant = Callable[[list[Hit], list[Hit]], list[Hit]]


def _z(values: dict[str, float], pool: Sequence[str]) -> dict[str, float]:
    # z-score over the pool (the union of both lists); a paper a list lacks counts as 0 there.
    xs = np.array([values.get(p, 0.0) for p in pool])
    sd = float(xs.std()) or 1.0
    return {p: (x - float(xs.mean())) / sd for p, x in zip(pool, xs.tolist(), strict=True)}


def _ranked(scores: dict[str, float], pool: Sequence[str]) -> list[Hit]:
    order = {p: i for i, p in enumerate(pool)}
    return [Hit(p, s) for p, s in sorted(scores.items(), key=lambda kv: (-kv[1], order[kv[0]]))]


def _pool(kw: Sequence[Hit], full: Sequence[Hit]) -> list[str]:
    return list(dict.fromkeys([h.paper_id for h in kw] + [h.paper_id for h in full]))


def zscores(w_sem: float) -> Variant:
    """Both lists z-scored over the pool, then w_sem of the semantic one."""

    def rank(kw: list[Hit], full: list[Hit]) -> list[Hit]:
        pool = _pool(kw, full)
        k = _z({h.paper_id: h.score for h in kw}, pool)
        s = _z({h.paper_id: h.score for h in full}, pool)
        return _ranked({p: (1 - w_sem) * k[p] + w_sem * s[p] for p in pool}, pool)

    return rank


def raw_sum(bm25_weight: float) -> Variant:
    """Raw BM25 times a weight plus the raw cosine: no per-query normalisation at all."""

    def rank(kw: list[Hit], full: list[Hit]) -> list[Hit]:
        pool = _pool(kw, full)
        k = {h.paper_id: h.score for h in kw}
        s = {h.paper_id: h.score for h in full}
        return _ranked({p: bm25_weight * k.get(p, 0.0) + s.get(p, 0.0) for p in pool}, pool)

    return rank


def convex_plus_rrf(beta: float, k: float = 60.0) -> Variant:
    """The product's convex fusion plus beta·k times reciprocal rank fusion (rank and score together)."""

    def rank(kw: list[Hit], full: list[Hit]) -> list[Hit]:
        convex = {h.paper_id: h.score for h in product(kw, full)}
        rrf = {h.paper_id: h.score for h in hybrid.rrf([kw, full], k=k)}
        return _ranked({p: convex[p] + beta * k * rrf.get(p, 0.0) for p in convex}, _pool(kw, full))

    return rank


def product(kw: list[Hit], full: list[Hit]) -> list[Hit]:
    """The product's fusion for a sentence (service.DEFAULT_TUNING)."""
    return hybrid.fuse([kw, full], fusion="convex", weights=[0.5, 0.5], norms=["max", "minmax"])


@dataclass
class Feedback:
    """Rocchio in vector space: q' = normalise(q + alpha · mean of the top `docs` fused hits'
    vectors); the pool's cosines are recomputed with q' and fused with the keyword list again."""

    searcher: Searcher
    conn: Connection
    docs: int
    alpha: float

    def rank(self, kw: list[Hit], full: list[Hit], query_vector: np.ndarray) -> list[Hit]:
        """The pool reranked with the fed-back query vector."""
        first = product(kw, full)
        pool = _pool(kw, full)
        pks = vectors.pks_of(conn=self.conn, paper_ids=pool)
        by_id = {pid: pk for pk, pid in pks.items()}
        top = (
            self.searcher.index.vector_of(conn=self.conn, paper_pk=by_id[h.paper_id])
            for h in first
            if h.paper_id in by_id
        )
        fed = [v for v in itertools.islice(top, self.docs) if v is not None]
        q = query_vector + self.alpha * np.mean(fed, axis=0)
        q = (q / np.linalg.norm(q)).astype(np.float32)
        cos = dict(self.searcher.index.similarities(conn=self.conn, query=q, pks=list(pks)))
        again = sorted((Hit(pks[pk], s) for pk, s in cos.items()), key=lambda h: -h.score)
        return product(kw, again)


VARIANTS: dict[str, Variant] = {
    **{f"z-scores, semantic {w}": zscores(w) for w in (0.35, 0.4, 0.45, 0.5)},
    **{f"raw BM25 × {a} + cosine": raw_sum(a) for a in (0.01, 0.02, 0.03)},
    **{f"convex + {b} RRF": convex_plus_rrf(b) for b in (0.1, 0.3)},
}
