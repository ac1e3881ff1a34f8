"""Vector storage and the exact/ANN index with staleness (issue #3), on a real database.

Vectors here are random unit vectors: what is tested is the index, not a model.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from papertrend.search import ann, pg_vectors, vectors
from papertrend.search.embed_job import embed_missing
from papertrend.search.index import VectorSearch, prepare
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


def _file_stamp(index: VectorIndex) -> tuple[int, int, int, int]:
    data, meta = index.ann_path.stat(), (index.ann_dir / "current.json").stat()
    return data.st_ino, data.st_mtime_ns, meta.st_ino, meta.st_mtime_ns


@pytest.mark.sqlite_only  # PostgreSQL searches its own index; there is no file
def test_processes_share_one_file_and_answer_newer_vectors_without_rewriting_it(
    engine: Engine, tmp_path: Path
) -> None:
    rng = np.random.default_rng(9)
    pks = _papers(engine, 400)
    matrix = _unit(rng, 400)
    _store(engine, pks, matrix)
    first = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    second = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)  # another process
    queries = _unit(rng, 10)
    with engine.connect() as conn:
        assert [first.search(conn=conn, query=q, k=10) for q in queries] == [
            second.search(conn=conn, query=q, k=10) for q in queries
        ]
    assert first.ann_path == second.ann_path and first.kind == second.kind == "ann"
    stamp = _file_stamp(first)

    # New papers, and one old paper re-embedded: both readers find them at once from the table,
    # leaving the file as it was.
    late = _papers(engine, 30, first=400)
    late_matrix = _unit(rng, 30)
    _store(engine, late, late_matrix)
    _store(engine, [pks[5]], late_matrix[:1] * -1)
    with engine.connect() as conn:
        for reader in (first, second):
            top = reader.search(conn=conn, query=late_matrix[7], k=3)
            assert top[0][0] == late[7] and top[0][1] == pytest.approx(1.0, abs=1e-5)
            assert pks[5] not in {pk for pk, _ in reader.search(conn=conn, query=matrix[5], k=20)}
            assert reader.search(conn=conn, query=-late_matrix[0], k=1)[0][0] == pks[5]
            assert len(reader) == 430
    assert _file_stamp(first) == stamp

    # The embed job's prepare writes them into a new file; readers move to it and their delta empties.
    with engine.connect() as conn:
        prepare(conn=conn, model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    current = ann.Current.read(first.ann_dir)
    assert current is not None and current.count == 430
    with engine.connect() as conn:
        assert first.search(conn=conn, query=late_matrix[7], k=1)[0][0] == late[7]
    assert _file_stamp(first) != stamp and first._ann is not None and len(first._ann.delta) == 0
    assert len(list(first.ann_dir.glob("*.usearch"))) == 1  # the replaced file was unlinked


@pytest.mark.sqlite_only
def test_a_deleted_paper_is_never_returned(engine: Engine, tmp_path: Path) -> None:
    rng = np.random.default_rng(10)
    pks = _papers(engine, 300)
    matrix = _unit(rng, 300)
    _store(engine, pks, matrix)
    reader = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    with engine.connect() as conn:
        assert reader.search(conn=conn, query=matrix[3], k=1)[0][0] == pks[3]
    stamp = _file_stamp(reader)
    late = _papers(engine, 1, first=300)  # stored after the file, seen by the reader, then deleted too
    late_matrix = _unit(rng, 1)
    _store(engine, late, late_matrix)
    with engine.connect() as conn:
        assert reader.search(conn=conn, query=late_matrix[0], k=1)[0][0] == late[0]
    with transaction(engine) as conn:
        conn.execute(papers.delete().where(papers.c.pk.in_([pks[3], pks[4], late[0]])))
    with engine.connect() as conn:
        assert late[0] not in {pk for pk, _ in reader.search(conn=conn, query=late_matrix[0], k=5)}
    opened_after = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    broad = Filters(categories=("cs.CL", "cs.CV"))
    with engine.connect() as conn:
        for searcher in (reader, opened_after):
            for i in (3, 4):
                found = searcher.search(conn=conn, query=matrix[i], k=10)
                assert len(found) == 10 and not {pks[3], pks[4]} & {pk for pk, _ in found}
                found = searcher.search(conn=conn, query=matrix[i], k=10, filters=broad)
                assert not {pks[3], pks[4]} & {pk for pk, _ in found}
    assert _file_stamp(reader) == stamp and len(reader) == 298
    with engine.connect() as conn:  # the writer drops them from the file
        reader.catch_up(conn=conn)
        assert not {pks[3], pks[4]} & {pk for pk, _ in reader.search(conn=conn, query=matrix[3], k=300)}
    assert reader._ann is not None and (reader._ann.gone, len(reader._ann.delta)) == (0, 0)
    assert reader._ann.view.current.count == 298


@pytest.mark.sqlite_only
def test_a_reader_too_far_behind_rewrites_the_file_unless_another_process_is(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(11)
    pks = _papers(engine, 200)
    _store(engine, pks, _unit(rng, 200))
    reader = VectorIndex(model=MODEL, dim=DIM, index_dir=tmp_path, ann_threshold=100)
    with engine.connect() as conn:
        reader.refresh(conn=conn)
    stamp = _file_stamp(reader)
    monkeypatch.setattr(vectors, "DELTA_LIMIT", 10)
    late = _papers(engine, 20, first=200)
    late_matrix = _unit(rng, 20)
    _store(engine, late, late_matrix)
    with ann.writer_lock(reader.ann_dir), engine.connect() as conn:  # another process is writing
        assert reader.search(conn=conn, query=late_matrix[2], k=1)[0][0] == late[2]
    assert _file_stamp(reader) == stamp
    reader._signature = None  # the next check
    with engine.connect() as conn:
        assert reader.search(conn=conn, query=late_matrix[2], k=1)[0][0] == late[2]
    assert _file_stamp(reader) != stamp and reader._ann is not None and len(reader._ann.delta) == 0


class _RandomModel:
    """A stand-in embedding model: random unit vectors (the index is under test, not a model)."""

    name = MODEL
    dim = DIM

    def __init__(self) -> None:
        self.rng = np.random.default_rng(12)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return _unit(self.rng, len(texts))


@pytest.mark.sqlite_only
def test_the_embed_job_writes_the_shared_file_past_the_threshold(engine: Engine, tmp_path: Path) -> None:
    _papers(engine, 150)
    embed_missing(engine=engine, embedder=_RandomModel(), index_dir=tmp_path, ann_threshold=100)
    current = ann.Current.read(tmp_path / f"{MODEL}.hnsw")
    assert current is not None and current.count == 150
    _papers(engine, 50, first=150)
    embed_missing(engine=engine, embedder=_RandomModel(), index_dir=tmp_path, ann_threshold=100)
    current = ann.Current.read(tmp_path / f"{MODEL}.hnsw")
    assert current is not None and current.count == 200


_VIEW_MEMORY = """
import json, sys
import numpy as np
from pathlib import Path
from papertrend.search.ann import AnnView, new_index

def anonymous_kb():  # memory no other process can share (a lone viewer's file pages count as private)
    fields = dict(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if ":" in line)
    return int(fields["Anonymous"].split()[0])

queries = np.random.default_rng(1).standard_normal((200, 256)).astype(np.float32)
new_index(256)  # usearch and onnx imported before the baseline
before = anonymous_kb()
view = AnnView.open(Path(sys.argv[1]), 256)
found = [view.search(q, 10)[0][0] for q in queries]
print(json.dumps({"growth_kb": anonymous_kb() - before, "size": len(view)}))
"""


@pytest.mark.sqlite_only
def test_a_viewed_index_stays_out_of_the_searching_process_private_memory(tmp_path: Path) -> None:
    """The file's pages are the OS page cache, shared by every process viewing it: searching must not
    copy them into the process (a load would add the whole file)."""
    import subprocess
    import sys

    from usearch.index import Index

    n = 10_000
    matrix = np.random.default_rng(0).standard_normal((n, 256)).astype(np.float32)
    # A sparse graph builds in seconds; what is measured is the view, not the graph's quality.
    built = Index(ndim=256, metric="cos", dtype="f16", connectivity=8, expansion_add=16)
    built.add(np.arange(n, dtype=np.uint64), matrix, threads=2)
    with ann.writer_lock(tmp_path):
        current = ann.publish(tmp_path, built, count=n, newest="")
    size_kb = (tmp_path / current.file).stat().st_size // 1024
    done = subprocess.run(
        [sys.executable, "-c", _VIEW_MEMORY, str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout)
    assert out["size"] == n and size_kb > 5_000
    assert out["growth_kb"] < size_kb / 4, (out, size_kb)


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
        "from papertrend.search.ann import new_index\n"
        "from papertrend.search.embedder import get_embedder\n"
        "new_index(8)\n"
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


def test_build_memory_grows_with_the_rows_and_is_capped() -> None:
    assert pg_vectors.build_memory_mb(rows=100, dim=384) == 64
    one_million = pg_vectors.build_memory_mb(rows=1_000_000, dim=384)
    assert 2_700 < one_million < 4_000  # ~2.8 kB a row measured, a quarter to spare
    assert pg_vectors.build_memory_mb(rows=30_000_000, dim=384) == 8192


@pytest.mark.postgres_only
def test_the_build_raises_maintenance_work_mem_for_its_own_transaction_only(engine: Engine) -> None:
    pks = _papers(engine, 3000)
    _store(engine, pks, _unit(np.random.default_rng(8), 3000))
    setting = sa.text("SELECT current_setting('maintenance_work_mem')")
    with engine.connect() as conn:
        conn.execute(sa.text("SET maintenance_work_mem = '1MB'"))  # this session: below what 3,000 need
        conn.commit()
        with conn.begin():
            assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
            assert conn.execute(setting).scalar_one() == "64MB"
        assert conn.execute(setting).scalar_one() == "1MB"
        conn.execute(sa.text("SET maintenance_work_mem = '256MB'"))  # a larger server setting stays
        conn.commit()
        with conn.begin():
            conn.execute(sa.text(f"DROP INDEX {pg_vectors.index_name(MODEL, DIM)}"))
            assert pg_vectors.ensure_index(conn=conn, model=MODEL, dim=DIM)
            assert conn.execute(setting).scalar_one() == "256MB"


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
    # Vectors stored after the HNSW file was saved (a re-embedded paper, a new one) answer from the
    # reader's delta, not the file's older copy.
    _store(engine, [pks[20], pks[39]], matrix[[5, 6]])
    with engine.connect() as conn:
        index.search(conn=conn, query=matrix[0], k=1)
        found = dict(index.similarities(conn=conn, query=query, pks=wanted))
    assert found[pks[20]] == pytest.approx(1.0, abs=1e-3)
    assert found[pks[39]] == pytest.approx(float(matrix[6] @ matrix[5]), abs=1e-3)
