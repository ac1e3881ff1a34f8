"""Vector storage and the exact/ANN index with staleness (issue #3), on a real database.

Vectors here are random unit vectors: what is tested is the index, not a model.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import transaction
from papertrend.ingest import pipeline
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.search import pg_vectors, vectors
from papertrend.search.index import VectorSearch
from papertrend.search.pg_vectors import PgVectorIndex
from papertrend.search.tables import embeddings
from papertrend.search.vectors import VectorIndex
from papertrend.types import Filters

DIM = 32
MODEL = "test-random"


def _papers(engine: Engine, n: int, *, first: int = 0) -> list[int]:
    items = [
        PaperIn(
            id=f"2401.{first + i:05d}",
            title=f"Paper {first + i}",
            source="test",
            categories=["cs.CL" if (first + i) % 2 else "cs.CV"],
            listed_on=date(2024, 1, 1) + timedelta(days=(first + i) % 10),
        )
        for i in range(n)
    ]
    with transaction(engine) as conn:
        pipeline.store(conn=conn, items=items, now=datetime.now(UTC))
        return [
            int(pk)
            for pk in conn.execute(
                sa.select(papers.c.pk).where(papers.c.id.in_([p.id for p in items])).order_by(papers.c.pk)
            ).scalars()
        ]


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.standard_normal((n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _store(engine: Engine, pks: list[int], matrix: np.ndarray) -> None:
    with transaction(engine) as conn:
        vectors.store(conn=conn, model=MODEL, paper_pks=pks, vectors=matrix, now=datetime.now(UTC))


def test_blob_round_trip() -> None:
    m = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(vectors.from_blobs([vectors.to_blob(r) for r in m], 3), m)


def test_missing_and_store(engine: Engine) -> None:
    pks = _papers(engine, 5)
    with engine.connect() as conn:
        assert [p for p, _, _ in vectors.missing(conn=conn, model=MODEL, limit=10)] == pks
    _store(engine, pks[:3], _unit(np.random.default_rng(0), 3))
    with engine.connect() as conn:
        assert vectors.count_missing(conn=conn, model=MODEL) == 2
        assert [p for p, _, _ in vectors.missing(conn=conn, model=MODEL, limit=10)] == pks[3:]


def test_exact_search_finds_itself_and_applies_filters(engine: Engine, tmp_path: Path) -> None:
    pks = _papers(engine, 40)
    matrix = _unit(np.random.default_rng(1), 40)
    _store(engine, pks, matrix)
    index = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=1000)
    with engine.connect() as conn:
        found = index.search(conn=conn, query=matrix[7], k=5)
        assert index.kind == "exact"
        assert found[0][0] == pks[7] and found[0][1] == pytest.approx(1.0, abs=1e-5)
        assert [s for _, s in found] == sorted((s for _, s in found), reverse=True)
        only_cl = index.search(conn=conn, query=matrix[8], k=40, filters=Filters(categories=("cs.CL",)))
        odd = {pk for i, pk in enumerate(pks) if i % 2}
        assert {pk for pk, _ in only_cl} == odd


def _recall(index: VectorSearch, engine: Engine, queries: np.ndarray, exact: vectors.ExactIndex) -> float:
    hits = 0
    with engine.connect() as conn:
        for q in queries:
            got = {pk for pk, _ in index.search(conn=conn, query=q, k=10)}
            want = {pk for pk, _ in exact.search(q, 10)}
            hits += len(got & want)
    return hits / (10 * len(queries))


def test_ann_index_is_built_kept_fresh_and_rebuilt(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pks = _papers(engine, 600)
    matrix = _unit(rng, 600)
    _store(engine, pks, matrix)
    index = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    queries = _unit(rng, 30)
    assert _recall(index, engine, queries, vectors.ExactIndex(np.array(pks), matrix)) >= 0.95
    assert index.kind == "ann" and index.ann_path.exists() and len(index) == 600

    # New papers arrive: the index catches up instead of going stale.
    new_pks = _papers(engine, 50, first=600)
    new_matrix = _unit(rng, 50)
    _store(engine, new_pks, new_matrix)
    with engine.connect() as conn:
        found = index.search(conn=conn, query=new_matrix[3], k=1)
    assert found[0][0] == new_pks[3] and len(index) == 650

    # Another process opens the saved index: it is current and used as is.
    other = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    with engine.connect() as conn:
        assert other.search(conn=conn, query=new_matrix[3], k=1)[0][0] == new_pks[3]

    # A paper is deleted: its vector goes with it and the index is rebuilt without it.
    with transaction(engine) as conn:
        conn.execute(papers.delete().where(papers.c.pk == pks[0]))
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(embeddings)).scalar() == 649
        found = index.search(conn=conn, query=matrix[0], k=5)
    assert pks[0] not in {pk for pk, _ in found} and len(index) == 649


def test_corrupt_index_file_is_rebuilt(engine: Engine, tmp_path: Path) -> None:
    pks = _papers(engine, 150)
    matrix = _unit(np.random.default_rng(3), 150)
    _store(engine, pks, matrix)
    index = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    with engine.connect() as conn:
        index.search(conn=conn, query=matrix[0], k=1)
    index.ann_path.write_bytes(b"garbage")
    fresh = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    with engine.connect() as conn:
        assert fresh.search(conn=conn, query=matrix[5], k=1)[0][0] == pks[5]


def test_changed_text_drops_the_stale_vector(engine: Engine) -> None:
    pks = _papers(engine, 2)
    _store(engine, pks, _unit(np.random.default_rng(4), 2))
    with transaction(engine) as conn:
        pipeline.store(
            conn=conn,
            items=[PaperIn(id="2401.00000", title="A new title", source="test", version=2)],
            now=datetime.now(UTC),
        )
    with engine.connect() as conn:
        left = conn.execute(sa.select(embeddings.c.paper_pk)).scalars().all()
    assert left == [pks[1]]


def test_ann_index_then_the_embedding_model_in_one_process() -> None:
    # usearch loaded before onnx used to crash the process (SIGSEGV) when the model loaded next.
    code = (
        "from pathlib import Path; import numpy as np\n"
        "from papertrend.search.vectors import AnnIndex\n"
        "from papertrend.search.embedder import get_embedder\n"
        "AnnIndex(Path('unused.usearch'), 8)\n"
        "print(get_embedder('minilm').embed(['a sentence']).shape)\n"
    )
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "(1, 384)" in done.stdout


def _pg_index(engine: Engine, *, create: bool = True) -> PgVectorIndex:
    if create:
        with transaction(engine) as conn:
            assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
            assert not pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
    return PgVectorIndex(model=MODEL, dim=DIM)


@pytest.mark.postgres_only
def test_pgvector_hnsw_recall_against_exact(engine: Engine) -> None:
    rng = np.random.default_rng(5)
    pks = _papers(engine, 2000)
    matrix = _unit(rng, 2000)
    _store(engine, pks, matrix)
    index = _pg_index(engine)
    exact = vectors.ExactIndex(np.asarray(pks, dtype=np.int64), matrix)
    queries = _unit(rng, 40)
    with engine.connect() as conn:
        index.refresh(conn=conn)
        assert (index.kind, len(index)) == ("hnsw", 2000)
        # The planner really uses the partial expression index.
        stmt = index.statement(query=queries[0], k=10)
        sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        plan = "\n".join(conn.execute(sa.text(f"EXPLAIN {sql}")).scalars())
        assert pg_vectors.index_name(MODEL, DIM) in plan, plan
    assert _recall(index, engine, queries, exact) >= 0.95


@pytest.mark.postgres_only
def test_pgvector_filters_new_vectors_and_deletions(engine: Engine) -> None:
    rng = np.random.default_rng(6)
    pks = _papers(engine, 300)
    matrix = _unit(rng, 300)
    _store(engine, pks, matrix)
    index = _pg_index(engine)
    with engine.connect() as conn:
        only_cl = index.search(conn=conn, query=matrix[3], k=150, filters=Filters(categories=("cs.CL",)))
    assert {pk for pk, _ in only_cl} == {pk for i, pk in enumerate(pks) if i % 2}
    assert [s for _, s in only_cl] == sorted((s for _, s in only_cl), reverse=True)
    # A vector stored after the index was built is found at once: no rebuild, no refresh.
    late = _papers(engine, 1, first=5000)
    probe = _unit(rng, 1)
    _store(engine, late, probe)
    with engine.connect() as conn:
        top = index.search(conn=conn, query=probe[0], k=1)
    assert top[0][0] == late[0] and top[0][1] == pytest.approx(1.0, abs=1e-5)
    with transaction(engine) as conn:
        conn.execute(papers.delete().where(papers.c.pk == late[0]))
    with engine.connect() as conn:
        assert late[0] not in {pk for pk, _ in index.search(conn=conn, query=probe[0], k=5)}
        assert np.allclose(index.vector_of(conn=conn, paper_pk=pks[3]), matrix[3], atol=1e-6)
        assert index.vector_of(conn=conn, paper_pk=late[0]) is None


@pytest.mark.sqlite_only  # PostgreSQL searches its own index; there is nothing in memory to build
def test_concurrent_first_searches_wait_for_the_index_and_later_ones_do_not(
    engine: Engine, tmp_path: Path
) -> None:
    """A web process's first searches arrive together: each must wait for the one build (one raised
    before, finding no index yet); once built, a search never waits for a rebuild in progress."""
    rng = np.random.default_rng(5)
    pks = _papers(engine, 1500)
    matrix = _unit(rng, 1500)
    _store(engine, pks, matrix)
    index = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100, recheck_seconds=60)

    def first(i: int) -> int:
        with engine.connect() as conn:
            return index.search(conn=conn, query=matrix[i], k=1)[0][0]

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert list(pool.map(first, range(8))) == pks[:8]
    assert index.kind == "ann"

    # A rebuild holds the lock: a search that finds new vectors answers from the current graph.
    _store(engine, _papers(engine, 10, first=1500), _unit(rng, 10))
    index._checked = float("-inf")  # the recheck period is over
    with index._refreshing, engine.connect() as conn:
        assert index.search(conn=conn, query=matrix[9], k=1)[0][0] == pks[9]
    assert len(index) == 1500


@pytest.mark.parametrize("threshold", [1000, 10])  # exact, then the HNSW graph's vectors
def test_similarities_of_given_papers_are_their_cosines(
    engine: Engine, tmp_path: Path, threshold: int
) -> None:
    # #14: hybrid search gives each keyword hit its exact cosine; a pk without a vector is left out.
    pks = _papers(engine, 40)
    matrix = _unit(np.random.default_rng(3), 40)
    _store(engine, pks[:39], matrix[:39])
    index: VectorSearch = (
        _pg_index(engine)
        if engine.dialect.name == "postgresql"
        else VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=threshold)
    )
    query = matrix[5] * 3.0  # not unit length: cosines all the same
    with engine.connect() as conn:
        index.search(conn=conn, query=matrix[0], k=1)
        if engine.dialect.name != "postgresql":
            assert index.kind == ("exact" if threshold > 40 else "ann")
        wanted = [pks[5], pks[20], pks[39]]
        found = dict(index.similarities(conn=conn, query=query, pks=wanted))
        assert set(found) == {pks[5], pks[20]}
        assert found[pks[5]] == pytest.approx(1.0, abs=1e-3)
        assert found[pks[20]] == pytest.approx(float(matrix[20] @ matrix[5]), abs=1e-3)
        pid = conn.execute(sa.select(papers.c.id).where(papers.c.pk == pks[5])).scalar_one()
        assert vectors.pks_of(conn=conn, paper_ids=[pid, "2601.99999", pid]) == {pks[5]: pid}
