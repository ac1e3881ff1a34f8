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
from papertrend.search.vectors import F32, VectorIndex
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


def prepare(*, conn: Connection, model: str, dim: int) -> None:
    """Build what the database needs before searching `model` (PostgreSQL's HNSW index); SQLite's
    derived index is built by the searcher itself, so there it does nothing."""
    if conn.dialect.name == "postgresql":
        pg_vectors.ensure_index(conn=conn, model=model, dim=dim)
