"""Which vector index a database gets (issue #6): the one place that asks which database it is.

SQLite keeps vectors in the table and searches them in the process (exact, or a usearch HNSW file
past a threshold: search/vectors.py); PostgreSQL searches them where they are, with pgvector
(search/pg_vectors.py). Both answer the same `VectorSearch` methods.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from sqlalchemy.engine import Connection

from papertrend.search import pg_vectors
from papertrend.search.vectors import F32, VectorIndex, signature
from papertrend.types import Filters


class VectorSearch(Protocol):
    """Nearest-neighbour search over one model's stored vectors."""

    model: str
    dim: int
    last_build_seconds: float

    @property
    def kind(self) -> str: ...

    def refresh(self, *, conn: Connection) -> None: ...

    def __len__(self) -> int: ...

    def search(
        self, *, conn: Connection, query: F32, k: int, filters: Filters = ...
    ) -> list[tuple[int, float]]: ...

    def vector_of(self, *, conn: Connection, paper_pk: int) -> F32 | None: ...

    def similarities(
        self, *, conn: Connection, query: F32, pks: Sequence[int]
    ) -> list[tuple[int, float]]: ...


def open_index(
    *,
    dialect: str,
    model: str,
    dim: int,
    index_dir: Path,
    ann_threshold: int = 50_000,
    recheck_seconds: float = 0.0,
) -> VectorSearch:
    """The vector index for `model` on a database of this dialect (PostgreSQL's is always fresh)."""
    if dialect == "postgresql":
        return pg_vectors.PgVectorIndex(model=model, dim=dim)
    return VectorIndex(
        model=model,
        dim=dim,
        index_dir=index_dir,
        ann_threshold=ann_threshold,
        recheck_seconds=recheck_seconds,
    )


# Rewriting the shared file means loading and saving all of it (~1 kB a vector: 3 GB at 3M), while
# readers search up to DELTA_LIMIT (10,000) newer vectors exactly, 0.4 ms CPU a search at 5,000; so a
# run of the embed job rewrites it once it is 5,000 vectors (or 1%, for small files) behind, not after
# every slice of 512.
CATCH_UP_MIN = 5_000
CATCH_UP_SHARE = 0.01


def prepare(
    *, conn: Connection, model: str, dim: int, index_dir: Path | None = None, ann_threshold: int = 50_000
) -> None:
    """Bring the derived index of `model` up to date after vectors were stored: PostgreSQL's HNSW index,
    or on SQLite (given `index_dir`) the host's shared HNSW file once the model has `ann_threshold`
    vectors, so web processes view it instead of each catching up on its own."""
    if conn.dialect.name == "postgresql":
        pg_vectors.ensure_index(conn=conn, model=model, dim=dim)
    elif index_dir is not None and (count := signature(conn=conn, model=model).count) >= ann_threshold:
        vector_index = VectorIndex(model=model, dim=dim, index_dir=index_dir, ann_threshold=ann_threshold)
        vector_index.catch_up(conn=conn, min_new=min(CATCH_UP_MIN, int(CATCH_UP_SHARE * count)))
