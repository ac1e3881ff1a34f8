"""Vector search inside PostgreSQL: pgvector's cosine distance over a per-model HNSW index (issue #6).

`embeddings.vector` is a pgvector `vector` without a fixed dimension, since models differ (384 for
MiniLM, 256 for WordLlama). HNSW needs one, so each model gets a partial expression index,
`(vector::vector(dim)) WHERE model = '…'`, and every query repeats that expression and predicate
(the model name as a literal, so the planner can prove the partial index applies). Nothing lives in
the web process: several processes share the one index, and a new vector is searchable as soon as
its transaction commits.

Filtered queries use pgvector 0.8's iterative index scans, which keep walking the graph until
`k` rows pass the filter instead of returning the few of the first `ef_search` candidates that do.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import HALFVEC, VECTOR
from sqlalchemy.engine import Connection

from papertrend.papers.tables import papers
from papertrend.search import filters as search_filters
from papertrend.search.tables import embeddings
from papertrend.search.vectors import F32, cosines, load, signature
from papertrend.types import Filters

log = logging.getLogger(__name__)

# HNSW graph parameters (pgvector's defaults are m 16, ef_construction 64) and the candidate list a
# query explores: at least EF_SEARCH, and twice the rows asked for. On the 80k bench store's 256-d
# WordLlama vectors, 200 SciFact queries, recall@10 against exact search was 0.85 / 0.90 / 0.95 /
# 0.97 at ef_search 100 / 200 / 400 / 800 with m 16, ef_construction 128, and 0.94 / 0.96 / 0.97 at
# 200 / 300 / 400 with m 32, ef_construction 200 (~10 ms a query on a busy 2-core machine; the
# build took 3.5 min). 32 / 200 / 300 is the cheapest past the 0.95 target (issue #3).
M = 32
EF_CONSTRUCTION = 200
EF_SEARCH = 300

# What the graph holds: the table keeps float32 `vector`s (the source of truth, and the exact cosines
# of hybrid search); the HNSW index is built over `vector::halfvec`. On 100k synthetic 256-d vectors
# (bench/scale_pgvector.py, 200 real queries) recall@10 against exact was 0.928 with halfvec and 0.930
# with vector at ef_search 300 (0.821 / 0.824 at 100), and the index took 98 MB instead of 156 MB:
# more of the graph stays in shared buffers and a build fits a smaller maintenance_work_mem.
Storage = Literal["vector", "halfvec"]
STORAGE: Storage = "halfvec"
# A process that found no halfvec index (an install whose index predates it, or none yet) looks again
# this often, so it moves to the new index soon after `papertrend embed` builds it.
LOOK_AGAIN_SECONDS = 30.0

# pgvector builds the graph in memory while it fits in maintenance_work_mem and on disk after that,
# 10-50x slower. Measured here at m 32: 8 MB held 2,966 384-d vectors, ~2.8 kB each (1.5 kB of
# vector, ~1.3 kB of neighbour lists), so 1M MiniLM vectors need ~2.8 GB and 3M ~8.5 GB; PostgreSQL's
# default is 64 MB. The build raises it for its own transaction to what the rows need (never
# lowering a server's larger setting), capped so a big store cannot ask a small server for more
# than this; the memory is taken as the graph grows, not up front.
_GRAPH_BYTES_PER_ROW = 1300
_BUILD_MEMORY_CAP_MB = 8192
# pgvector ≥ 0.6 builds with parallel workers (the graph then lives in dynamic shared memory: a
# container needs /dev/shm as large as maintenance_work_mem). PostgreSQL's default allows 2 besides
# the leader, and the planner asks for fewer on small tables; the build raises the allowance to this
# (never lowering a larger server setting), and the server's max_parallel_workers and
# max_worker_processes, which an administrator sizes to the cores, still bound it.
BUILD_WORKERS = 7


def index_name(model: str, dim: int, storage: Storage = STORAGE) -> str:
    """A PostgreSQL identifier (≤ 63 bytes) naming the HNSW index of one model, dimension and storage."""
    safe = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:30]
    if storage == "vector":  # the name indexes built before halfvec (#15) have
        digest = hashlib.sha256(f"{model}\0{dim}".encode()).hexdigest()[:8]
        return f"ix_embeddings_hnsw_{safe}_{dim}_{digest}"
    digest = hashlib.sha256(f"{model}\0{dim}\0{storage}".encode()).hexdigest()[:8]
    return f"ix_embeddings_hnswh_{safe}_{dim}_{digest}"


def _type(storage: Storage, dim: int) -> Any:
    return HALFVEC(dim) if storage == "halfvec" else VECTOR(dim)


def _model_literal(model: str) -> str:
    return "'" + model.replace("'", "''") + "'"


def _index_exists(conn: Connection, name: str) -> bool:
    return bool(conn.execute(sa.text("SELECT to_regclass(:name) IS NOT NULL"), {"name": name}).scalar_one())


def _has_type(conn: Connection, name: str) -> bool:
    return bool(conn.execute(sa.text("SELECT to_regtype(:t) IS NOT NULL"), {"t": name}).scalar_one())


def ensure_index(*, conn: Connection, model: str, dim: int) -> bool:
    """Create the model's HNSW index when it is missing; True when it was created now.

    Runs in the caller's write transaction and blocks writes to `embeddings` while it builds (reads
    go on); `papertrend embed` calls it once the vectors are stored, so later inserts extend it. An
    index of the model built before halfvec (#15) answers searches until this one replaces it.
    """
    # halfvec came with pgvector 0.7; on an older server the graph holds float32 vectors.
    storage: Storage = STORAGE if _has_type(conn, STORAGE) else "vector"
    name = index_name(model, dim, storage)
    # Embed processes that finish together would each see no index and build one: PostgreSQL then
    # fails the later CREATE INDEX IF NOT EXISTS on pg_class's unique name (bench/embed_shared.py's
    # kill round, the index dropped first). The builds of one index queue on a transaction-scoped
    # lock, so the later one finds the index made.
    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    if _index_exists(conn, name):
        return False
    _raise_build_memory(conn=conn, rows=signature(conn=conn, model=model).count, dim=dim)
    _raise_build_workers(conn=conn)
    conn.execute(
        sa.text(
            f"CREATE INDEX IF NOT EXISTS {name} ON embeddings "
            f"USING hnsw ((vector::{storage}({int(dim)})) {storage}_cosine_ops) "
            f"WITH (m = {M}, ef_construction = {EF_CONSTRUCTION}) "
            f"WHERE model = {_model_literal(model)}"
        )
    )
    if storage != "vector":
        conn.execute(sa.text(f"DROP INDEX IF EXISTS {index_name(model, dim, 'vector')}"))
    # Fresh statistics, or the planner may still think the model has a handful of rows and sort
    # them all instead of walking the graph.
    conn.execute(sa.text("ANALYZE embeddings"))
    return True


def storage_in_use(*, conn: Connection, model: str, dim: int) -> Storage | None:
    """Which of the model's HNSW indexes exists: this version's, one built before halfvec, or none."""
    for storage in (STORAGE, "vector"):
        if _index_exists(conn, index_name(model, dim, storage)):
            return storage
    return None


def build_memory_mb(*, rows: int, dim: int) -> int:
    """maintenance_work_mem (MB) an in-memory HNSW build of `rows` vectors of `dim` needs, capped."""
    need = rows * (dim * 4 + _GRAPH_BYTES_PER_ROW) * 1.25 / 2**20  # a quarter to spare
    return int(min(_BUILD_MEMORY_CAP_MB, max(64, need)))


def _raise_build_memory(*, conn: Connection, rows: int, dim: int) -> None:
    have = int(
        conn.execute(sa.text("SELECT pg_size_bytes(current_setting('maintenance_work_mem'))")).scalar_one()
    )
    want = build_memory_mb(rows=rows, dim=dim)
    if want * 2**20 > have:
        # Transaction-local: it ends with the build's transaction.
        conn.execute(sa.text("SELECT set_config('maintenance_work_mem', :v, true)"), {"v": f"{want}MB"})


def _raise_build_workers(*, conn: Connection) -> None:
    have = int(
        conn.execute(sa.text("SELECT current_setting('max_parallel_maintenance_workers')::int")).scalar_one()
    )
    if have < BUILD_WORKERS:
        conn.execute(
            sa.text("SELECT set_config('max_parallel_maintenance_workers', :v, true)"),
            {"v": str(BUILD_WORKERS)},
        )


def index_and_buffer_bytes(*, conn: Connection, model: str, dim: int, storage: Storage) -> tuple[int, int]:
    """The size of the model's HNSW index and the server's shared_buffers, in bytes."""
    row = conn.execute(
        sa.text(
            "SELECT pg_relation_size(to_regclass(:name)), pg_size_bytes(current_setting('shared_buffers'))"
        ),
        {"name": index_name(model, dim, storage)},
    ).one()
    return int(row[0] or 0), int(row[1])


def buffers_note(*, index_bytes: int, buffer_bytes: int) -> str | None:
    """Advice when the graph cannot stay in shared_buffers, else None.

    A graph search touches ~12,500 buffers (1M papers, ef_search 300). Measured at 1M (981 MB graph,
    bench/scale.py, quiet 2 cores): hybrid p95 54.7 ms with shared_buffers 128 MB (pages copied in
    from the OS cache on every search) and 30.2 ms with 3 GB, once warm.
    """
    if index_bytes <= buffer_bytes:
        return None
    mb = 2**20
    return (
        f"the HNSW index ({index_bytes // mb} MB) is larger than shared_buffers ({buffer_bytes // mb} MB): "
        "vector search copies its pages in from the OS cache on every query; give shared_buffers room "
        "for it (docs/deploy.md)"
    )


class PgVectorIndex:
    """Nearest-neighbour search for one model, answered by PostgreSQL (same methods as VectorIndex)."""

    def __init__(self, *, model: str, dim: int, ef_search: int = EF_SEARCH) -> None:
        self.model = model
        self.dim = dim
        self.ef_search = ef_search
        self.last_build_seconds = 0.0  # built by `papertrend embed`, never by a searcher
        self._count = 0
        self._storage: Storage | None = None
        self._looked = -LOOK_AGAIN_SECONDS
        self._noted = False

    @property
    def kind(self) -> str:
        return "hnsw" if self._storage is not None else "exact"

    def refresh(self, *, conn: Connection) -> None:
        """Look up how many vectors the model has and which HNSW index it has."""
        self._count = signature(conn=conn, model=self.model).count
        self._look(conn)

    def _look(self, conn: Connection) -> None:
        self._storage = storage_in_use(conn=conn, model=self.model, dim=self.dim)
        self._looked = time.monotonic()
        if self._storage is not None and not self._noted:
            self._noted = True  # once a process: the sizes change slowly, and it is advice
            sizes = index_and_buffer_bytes(conn=conn, model=self.model, dim=self.dim, storage=self._storage)
            note = buffers_note(index_bytes=sizes[0], buffer_bytes=sizes[1])
            if note:
                log.warning("search.pgvector_buffers_short", extra={"note": note})

    def __len__(self) -> int:
        return self._count

    def _distance(self, query: F32) -> sa.ColumnElement[float]:
        # The expression of the index that exists, or the planner cannot use it (float32 when none).
        kind = _type(self._storage or "vector", self.dim)
        target = sa.bindparam(None, np.asarray(query, dtype=np.float32), type_=kind)
        column: sa.ColumnElement[Any] = sa.cast(embeddings.c.vector, kind)
        return column.op("<=>", return_type=sa.Float)(target)

    def statement(self, *, query: F32, k: int, filters: Filters = Filters()) -> sa.Select[Any]:
        """The query `search` runs: (paper_pk, distance), nearest first."""
        distance = self._distance(query)
        stmt = sa.select(embeddings.c.paper_pk, distance.label("distance")).where(
            embeddings.c.model == sa.literal_column(_model_literal(self.model))
        )
        where = search_filters.conditions(filters)
        if where:
            stmt = stmt.join(papers, papers.c.pk == embeddings.c.paper_pk).where(*where)
        return stmt.order_by(distance).limit(k)

    def search(
        self, *, conn: Connection, query: F32, k: int, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """The k nearest (paper pk, cosine similarity) to `query` that pass `filters`, best first."""
        if k <= 0:
            return []
        if self._storage != STORAGE and time.monotonic() - self._looked >= LOOK_AGAIN_SECONDS:
            self._look(conn)
        # Transaction-local settings: they end with this read's transaction.
        conn.execute(
            sa.text("SELECT set_config('hnsw.ef_search', :ef, true)"),
            {"ef": str(min(1000, max(self.ef_search, 2 * k)))},
        )
        if not filters.empty:
            conn.execute(sa.text("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)"))
        rows = conn.execute(self.statement(query=query, k=k, filters=filters))
        found = [(int(pk), 1.0 - float(d)) for pk, d in rows]
        # Relaxed order may return near neighbours slightly out of order.
        return sorted(found, key=lambda hit: (-hit[1], hit[0]))

    def vector_of(self, *, conn: Connection, paper_pk: int) -> F32 | None:
        """The stored vector of one paper, or None when it has none yet."""
        pks, matrix = load(conn=conn, model=self.model, dim=self.dim, paper_pks=[paper_pk])
        return matrix[0] if pks.size else None

    def similarities(self, *, conn: Connection, query: F32, pks: Sequence[int]) -> list[tuple[int, float]]:
        """(pk, cosine) of `query` with each of `pks` that has a vector, computed in the server."""
        query = np.asarray(query, dtype=np.float32)
        if not pks:
            return []
        if not np.any(query):  # pgvector's cosine of a zero vector is NaN; ours is 0
            return cosines(query, *load(conn=conn, model=self.model, dim=self.dim, paper_pks=list(pks)))
        # The server's exact cosine over the float32 column, not the ~1 kB vectors sent over to parse:
        # the ~80 keyword hits a hybrid query lacks took 5.4 ms p50 that way at 1M (bench/scale.py).
        target = sa.bindparam(None, query, type_=VECTOR(self.dim))
        similarity = 1.0 - embeddings.c.vector.op("<=>", return_type=sa.Float)(target)
        rows = conn.execute(
            sa.select(embeddings.c.paper_pk, similarity)
            .where(embeddings.c.model == self.model)
            .where(embeddings.c.paper_pk.in_(sorted({int(p) for p in pks})))
            .order_by(embeddings.c.paper_pk)
        )
        return [(int(pk), float(score)) for pk, score in rows]
