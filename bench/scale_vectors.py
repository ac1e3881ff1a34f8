"""The vectors of bench/scale.py's synthetic papers, and the vector indexes over them (issue #15).

Embedding 1M–3M papers on these 2 cores would take days (MiniLM: ~80 papers/s), so each synthetic
paper's vector is derived from the real vectors of the papers its text was recombined from
(bench/recommend_data.py embeds the real ~80k once, into BENCH_RECOMMEND_CACHE):

    v = normalise(0.5·v_title + 0.25·v_first_half + 0.25·v_second_half + noise)

where v_title is the real vector of the paper that gave the title, the two halves' those of the
papers that gave the abstract's halves, and noise is Gaussian with norm ~0.1 (σ = 0.1/√dim), so no
two synthetic papers share a vector. The vectors so keep the real corpus's geometry (its topics and
their density), which is what an HNSW graph's build and search cost depend on; they are not the
vectors a model would give the recombined text.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

F32 = npt.NDArray[np.float32]
MIX = (0.5, 0.25, 0.25)  # title, first half of the abstract, second half
NOISE = 0.1


def source_rows(count: int, n_real: int, seed: int = 15) -> npt.NDArray[np.int32]:
    """Rows (title, first half, second half, authors) of the real papers each synthetic paper was
    made from: the same draws as scale.make_file makes, replayed."""
    rng = random.Random(seed)
    out = np.empty((count, 4), dtype=np.int32)
    for i in range(count):
        out[i] = [rng.randrange(n_real) for _ in range(4)]
    return out


def synthetic(real: F32, sources: npt.NDArray[np.int32], seed: int = 15) -> F32:
    """Unit vectors of the synthetic papers (see the module's doc), float32."""
    rng = np.random.default_rng(seed)
    dim = real.shape[1]
    out = np.empty((len(sources), dim), dtype=np.float32)
    step = 100_000
    for start in range(0, len(sources), step):
        rows = sources[start : start + step]
        v = sum(w * real[rows[:, j]] for j, w in enumerate(MIX))
        v = v + rng.normal(0.0, NOISE / np.sqrt(dim), size=v.shape).astype(np.float32)
        out[start : start + step] = v / np.linalg.norm(v, axis=1, keepdims=True)
    return out


def real_vectors(data: Path, model: str, listing_ids: list[str]) -> F32:
    """The cached real vectors of the listing's papers, in the listing's order."""
    import recommend_data

    corpus = recommend_data.load(data)
    if corpus.ids[: len(listing_ids)] != listing_ids:
        raise SystemExit("recommend_data's corpus does not start with the listing's papers")
    return np.ascontiguousarray(recommend_data.vectors(corpus, model=model)[: len(listing_ids)])


def paper_pks(url: str, ids: list[str]) -> npt.NDArray[np.int64]:
    """The stored pk of each id, in order."""
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        by_id = {str(i): int(pk) for i, pk in conn.execute(sa.text("SELECT id, pk FROM papers"))}
    engine.dispose()
    return np.asarray([by_id[i] for i in ids], dtype=np.int64)


def store(url: str, model: str, pks: npt.NDArray[np.int64], matrix: F32) -> tuple[float, float]:
    """Write the vectors into `embeddings` (replacing the model's); (wall s, CPU s of this process)."""
    t0, c0 = time.perf_counter(), time.process_time()
    now = datetime.now(UTC)
    if url.startswith("postgresql"):
        _store_pg(url, model, pks, matrix, now)
    else:
        from papertrend.db import create_engine, transaction
        from papertrend.search import vectors

        engine = create_engine(url)
        with transaction(engine) as conn:
            conn.execute(sa.text("DELETE FROM embeddings WHERE model = :m"), {"m": model})
        step = 50_000
        for start in range(0, len(pks), step):
            with transaction(engine) as conn:
                vectors.store(
                    conn=conn,
                    model=model,
                    paper_pks=pks[start : start + step].tolist(),
                    vectors=matrix[start : start + step],
                    now=now,
                )
        engine.dispose()
    return time.perf_counter() - t0, time.process_time() - c0


def _store_pg(url: str, model: str, pks: npt.NDArray[np.int64], matrix: F32, now: datetime) -> None:
    # COPY in PostgreSQL's binary format, built as one numpy record per row (pgvector's `vector` is a
    # uint16 dim, a uint16 0 and big-endian float32s): formatting 256M floats as text, or handing 1M
    # rows to the driver one at a time, would take longer than the index build.
    import psycopg

    dim = matrix.shape[1]
    name = model.encode()
    row = np.dtype(
        [("fields", ">i2"), ("l_model", ">i4"), ("model", f"S{len(name)}"), ("l_pk", ">i4"), ("pk", ">i4"),
         ("l_vec", ">i4"), ("dim", ">u2"), ("unused", ">u2"), ("vec", ">f4", (dim,)),
         ("l_ts", ">i4"), ("ts", ">i8")]
    )  # fmt: skip
    micros = int((now - datetime(2000, 1, 1, tzinfo=UTC)).total_seconds() * 1_000_000)
    dsn = sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as conn:
        conn.execute("DELETE FROM embeddings WHERE model = %s", (model,))
        with conn.cursor().copy(
            "COPY embeddings (model, paper_pk, vector, created_at) FROM STDIN WITH (FORMAT BINARY)"
        ) as copy:
            copy.write(b"PGCOPY\n\xff\r\n\0" + bytes(8))
            step = 50_000
            for start in range(0, len(pks), step):
                n = len(pks[start : start + step])
                rec = np.zeros(n, dtype=row)
                rec["fields"], rec["l_model"], rec["model"] = 4, len(name), name
                rec["l_pk"], rec["pk"] = 4, pks[start : start + step]
                rec["l_vec"], rec["dim"], rec["vec"] = 4 + 4 * dim, dim, matrix[start : start + step]
                rec["l_ts"], rec["ts"] = 8, micros
                copy.write(rec.tobytes())
            copy.write(b"\xff\xff")
        conn.commit()


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def load() -> float:
    return os.getloadavg()[0]


def recall_at(found: list[list[int]], exact: list[list[int]], k: int = 10) -> float:
    """Mean share of the exact top k that the approximate search found."""
    return float(np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)]))


def exact_top(matrix: F32, keys: npt.NDArray[np.int64], queries: F32, k: int) -> list[list[int]]:
    """The exact top k keys by cosine (unit vectors), per query."""
    scores = queries @ matrix.T
    top = np.argpartition(-scores, k, axis=1)[:, :k]
    out = []
    for q, cols in enumerate(top):
        order = cols[np.argsort(-scores[q, cols])]
        out.append(keys[order].tolist())
    return out


# A fresh process builds the model's index as `papertrend embed` does (search.index.prepare), then
# searches it with the queries' vectors for recall@10 against the exact top 10 (read from a file).
_BUILD = r"""
import json, os, sys, time
from pathlib import Path
import numpy as np
from papertrend.db import create_engine, reading, transaction
from papertrend.search import index
from papertrend.search.index import open_index
url, data, model, dim, exact_file = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4]), sys.argv[5]
engine = create_engine(url)
server = None
def server_cpu(conn):
    # The build runs in the server: this backend and its parallel workers (reaped by the postmaster).
    pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
    def ticks(p, first, last):
        fields = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[first - 3 : last - 2]), int(fields[1])
    own, ppid = ticks(pid, 14, 15)
    children, _ = ticks(ppid, 16, 17)
    return (own + children) / os.sysconf("SC_CLK_TCK")
t0, c0 = time.perf_counter(), time.process_time()
with transaction(engine) as conn:
    before = server_cpu(conn) if conn.dialect.name == "postgresql" else 0.0
    threshold = __import__("papertrend.config", fromlist=["Settings"]).Settings().ann_threshold
    index.prepare(conn=conn, model=model, dim=dim, index_dir=data / "index", ann_threshold=threshold)
    after = server_cpu(conn) if conn.dialect.name == "postgresql" else 0.0
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
got = np.load(exact_file)
found = []
vi = open_index(dialect=engine.dialect.name, model=model, dim=dim, index_dir=data / "index",
                ann_threshold=threshold)
with reading(engine) as conn:
    if hasattr(vi, "refresh"):
        vi.refresh(conn=conn)
    for q in got["queries"]:
        found.append([pk for pk, _ in vi.search(conn=conn, query=q, k=10)])
exact = got["exact"].tolist()
recall = float(np.mean([len(set(f) & set(e)) / 10 for f, e in zip(found, exact)]))
print(json.dumps({"wall_s": wall, "client_cpu_s": cpu, "server_cpu_s": after - before, "recall10": recall,
                  "kind": vi.kind}))
"""


def build(url: str, data: Path, model: str, dim: int, exact_file: Path) -> dict[str, Any]:
    """Build the model's vector index in a fresh process; its wall and CPU time, peak memory, recall."""
    import json
    import subprocess
    import tempfile

    env = {**os.environ, "PAPERTREND_ENV": "test"}
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [sys.executable, "-c", _BUILD, url, str(data), model, str(dim), str(exact_file)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=log,
        )
        assert child.stdout is not None
        out = child.stdout.read()
        _, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            log.seek(0)
            raise SystemExit(f"index build failed:\n{log.read().decode(errors='replace')[-4000:]}")
    result: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    result["cpu_s"] = usage.ru_utime + usage.ru_stime
    result["max_rss_mb"] = usage.ru_maxrss / 1024
    result["load"] = load()
    return result
