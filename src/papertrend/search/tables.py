"""The search room's table: one vector per paper and embedding model (issue #3)."""

from __future__ import annotations

from typing import Any

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR  # also teaches SQLAlchemy to reflect `vector` columns

from papertrend.sql import UTCDateTime, metadata


class EmbeddingVector(sa.TypeDecorator[bytes]):
    """An embedding, seen by Python as little-endian float32 bytes on both databases (issue #6).

    SQLite keeps those bytes as a blob. PostgreSQL keeps a pgvector `vector` without a fixed dimension
    (models differ: 384 for MiniLM, 256 for WordLlama), so search can run `<=>` in the database over
    per-model HNSW expression indexes. `search.vectors.store`/`load` stay the same code on both.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(VECTOR())
        return dialect.type_descriptor(sa.LargeBinary())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return np.frombuffer(value, dtype="<f4")
        return np.asarray(value, dtype=np.float32)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None or dialect.name != "postgresql":
            return value  # type: ignore[no-any-return]
        return np.asarray(value, dtype="<f4").tobytes()


# One vector per paper and embedding model: the source of truth; any ANN index is derived (issue #3).
# L2-normalised float32: a blob of little-endian bytes on SQLite, a pgvector `vector` on PostgreSQL.
embeddings = sa.Table(
    "embeddings",
    metadata,
    sa.Column("model", sa.String(128), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("vector", EmbeddingVector(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
# The vector index checks (count, newest) of a model's vectors before each search; without this
# covering index that read every vector blob (~60 ms a query at 80k papers).
sa.Index("ix_embeddings_model_created", embeddings.c.model, embeddings.c.created_at)

# Papers an embedding process is working on (issue #15): any number of `papertrend embed` processes and
# workers, on any number of machines, take disjoint batches of the backlog. A row lives from the claim
# until the batch's vectors are stored (same transaction); a killed process's rows are taken over once
# its lease runs out, or at once on its own host, where its pid is seen to be gone.
embed_claims = sa.Table(
    "embed_claims",
    metadata,
    sa.Column("model", sa.String(128), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("lease_until", UTCDateTime(), nullable=False),
)
