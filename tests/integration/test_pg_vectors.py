"""pgvector's HNSW index over halfvec, the move from an index built before it, and the build's
settings (issue #15), on a real PostgreSQL."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from papertrend.db import transaction
from papertrend.ingest import pipeline
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.search import pg_vectors, vectors
from papertrend.search.pg_vectors import PgVectorIndex

pytestmark = pytest.mark.postgres_only

DIM = 32
MODEL = "test-random"


def _store_papers(engine: Engine, n: int) -> tuple[list[int], np.ndarray]:
    items = [
        PaperIn(
            id=f"2401.{i:05d}",
            title=f"Paper {i}",
            source="test",
            listed_on=date(2024, 1, 1) + timedelta(i % 9),
        )
        for i in range(n)
    ]
    rng = np.random.default_rng(15)
    matrix = rng.standard_normal((n, DIM)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    with transaction(engine) as conn:
        pipeline.store(conn=conn, items=items, now=datetime.now(UTC))
        pks = [int(pk) for pk in conn.execute(sa.select(papers.c.pk).order_by(papers.c.pk)).scalars()]
        vectors.store(conn=conn, model=MODEL, paper_pks=pks, vectors=matrix, now=datetime.now(UTC))
    return pks, matrix


def _plan(conn: Connection, index: PgVectorIndex, query: np.ndarray) -> str:
    stmt = index.statement(query=query, k=10)
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    # What is checked is that the index's expression matches the query's, so the planner can use it.
    conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
    conn.execute(sa.text("SET LOCAL enable_bitmapscan = off"))
    conn.execute(sa.text("SET LOCAL enable_sort = off"))
    return "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())


def _indexes(conn: Connection) -> set[str]:
    rows = conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = 'embeddings'"))
    return {str(name) for name in rows.scalars() if "hnsw" in str(name)}


def test_the_graph_is_built_over_halfvec_and_searched_through_it(engine: Engine) -> None:
    pks, matrix = _store_papers(engine, 2000)
    with transaction(engine) as conn:
        assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
        definition = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
            {"n": pg_vectors.index_name(MODEL, DIM)},
        ).scalar_one()
    assert f"halfvec({DIM})" in definition and "halfvec_cosine_ops" in definition
    index = PgVectorIndex(model=MODEL, dim=DIM)
    with engine.connect() as conn:
        index.refresh(conn=conn)
        assert index.kind == "hnsw"
        assert pg_vectors.index_name(MODEL, DIM) in _plan(conn, index, matrix[7])
        top = index.search(conn=conn, query=matrix[7], k=3)
    # The graph holds half precision; the paper itself still comes first, at (about) cosine 1.
    assert top[0][0] == pks[7] and top[0][1] == pytest.approx(1.0, abs=1e-3)


def test_an_index_built_before_halfvec_answers_until_the_next_build_replaces_it(engine: Engine) -> None:
    pks, matrix = _store_papers(engine, 2000)
    legacy = pg_vectors.index_name(MODEL, DIM, "vector")
    with transaction(engine) as conn:  # what ensure_index built before #15
        conn.execute(
            sa.text(
                f"CREATE INDEX {legacy} ON embeddings USING hnsw ((vector::vector({DIM})) vector_cosine_ops) "
                f"WITH (m = 32, ef_construction = 200) WHERE model = '{MODEL}'"
            )
        )
        conn.execute(sa.text("ANALYZE embeddings"))
    index = PgVectorIndex(model=MODEL, dim=DIM)
    with engine.connect() as conn:
        assert index.search(conn=conn, query=matrix[4], k=1)[0][0] == pks[4]
        assert index.kind == "hnsw"
        assert legacy in _plan(conn, index, matrix[4])
    with transaction(engine) as conn:
        assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
        assert _indexes(conn) == {pg_vectors.index_name(MODEL, DIM)}
    # A running process moves to the new index when it looks again.
    index._looked -= pg_vectors.LOOK_AGAIN_SECONDS
    with engine.connect() as conn:
        assert index.search(conn=conn, query=matrix[4], k=1)[0][0] == pks[4]
        assert pg_vectors.index_name(MODEL, DIM) in _plan(conn, index, matrix[4])


def test_the_build_allows_parallel_workers_for_its_own_transaction_only(engine: Engine) -> None:
    _store_papers(engine, 200)
    setting = sa.text("SELECT current_setting('max_parallel_maintenance_workers')")
    with engine.connect() as conn:
        conn.execute(sa.text("SET max_parallel_maintenance_workers = 1"))
        conn.commit()
        with conn.begin():
            assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
            assert conn.execute(setting).scalar_one() == str(pg_vectors.BUILD_WORKERS)
        assert conn.execute(setting).scalar_one() == "1"
        conn.execute(sa.text("SET max_parallel_maintenance_workers = 12"))  # a larger setting stays
        conn.commit()
        with conn.begin():
            conn.execute(sa.text(f"DROP INDEX {pg_vectors.index_name(MODEL, DIM)}"))
            assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
            assert conn.execute(setting).scalar_one() == "12"


def test_a_graph_larger_than_shared_buffers_is_reported_once_with_its_sizes(
    engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    _store_papers(engine, 500)
    with transaction(engine) as conn:
        pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
    name = pg_vectors.index_name(MODEL, DIM)
    with engine.connect() as conn:
        index_bytes, buffer_bytes = pg_vectors.index_and_buffer_bytes(
            conn=conn, model=MODEL, dim=DIM, storage=pg_vectors.STORAGE
        )
        assert index_bytes == conn.execute(sa.text(f"SELECT pg_relation_size('{name}')")).scalar_one() > 0
        shown = conn.execute(sa.text("SELECT pg_size_bytes(current_setting('shared_buffers'))")).scalar_one()
        assert buffer_bytes == shown
        # This small graph fits the test server's buffers: nothing to say.
        with caplog.at_level("WARNING", logger="papertrend.search.pg_vectors"):
            PgVectorIndex(model=MODEL, dim=DIM).refresh(conn=conn)
    assert not [r for r in caplog.records if r.getMessage() == "search.pgvector_buffers_short"]
    note = pg_vectors.buffers_note(index_bytes=981 * 2**20, buffer_bytes=128 * 2**20)
    assert note is not None and "981 MB" in note and "128 MB" in note and "shared_buffers" in note
    assert pg_vectors.buffers_note(index_bytes=981 * 2**20, buffer_bytes=3 * 2**30) is None
    # A 1M-paper graph on a default server (the sizes as the 1M bench store had them): said once.
    monkeypatch.setattr(pg_vectors, "index_and_buffer_bytes", lambda **_: (981 * 2**20, 128 * 2**20))
    index = PgVectorIndex(model=MODEL, dim=DIM)
    with caplog.at_level("WARNING", logger="papertrend.search.pg_vectors"), engine.connect() as conn:
        index.refresh(conn=conn)
        index.refresh(conn=conn)
    said = [r for r in caplog.records if r.getMessage() == "search.pgvector_buffers_short"]
    assert len(said) == 1 and "981 MB" in said[0].__dict__["note"]


def test_two_processes_building_the_graph_at_once_make_one_and_neither_fails(engine: Engine) -> None:
    _store_papers(engine, 300)
    outcome: list[object] = []

    def second() -> None:
        try:
            with transaction(engine) as conn:
                outcome.append(pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM))
        except Exception as exc:  # the old code: duplicate key on pg_class's name once the first commits
            outcome.append(exc)

    thread = threading.Thread(target=second)
    # Closed (and so its lock released) even when an assertion fails, so the thread never waits on.
    with engine.connect() as first:
        first.begin()
        assert pg_vectors.ensure_index(conn=first, model=MODEL, dim=DIM)  # built, not yet committed
        thread.start()
        thread.join(timeout=1.0)
        assert thread.is_alive()  # waiting for the first build's transaction
        first.commit()
    thread.join(timeout=30)
    assert outcome == [False]
    with engine.connect() as conn:
        assert _indexes(conn) == {pg_vectors.index_name(MODEL, DIM)}


def test_exact_cosines_of_given_papers_are_computed_in_the_server(engine: Engine) -> None:
    pks, matrix = _store_papers(engine, 50)
    query = matrix[3] + 0.5 * matrix[9]  # not a unit vector: the cosine divides by its norm
    index = PgVectorIndex(model=MODEL, dim=DIM)
    wanted = [pks[9], pks[3], pks[20], 10**9]  # 10**9: no such paper, left out
    with engine.connect() as conn:
        found = index.similarities(conn=conn, query=query, pks=wanted)
        zero = index.similarities(conn=conn, query=np.zeros(DIM, dtype=np.float32), pks=wanted)
        assert index.similarities(conn=conn, query=query, pks=[]) == []
    expected = {pks[i]: float(matrix[i] @ query / np.linalg.norm(query)) for i in (3, 9, 20)}
    assert [pk for pk, _ in found] == sorted(expected)
    for pk, score in found:
        assert score == pytest.approx(expected[pk], abs=1e-5)
    assert zero == [(pk, 0.0) for pk in sorted(expected)]
