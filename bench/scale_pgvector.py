"""pgvector's HNSW at scale (issue #15): build time and recall@10 of `vector` against `halfvec`.

    .venv/bin/python bench/scale_pgvector.py --postgres ADMIN_URL [--count 100000] [--model wordllama]
        [--types vector,halfvec] [--m 32] [--ef-construction 200] [--workers 1]

Builds, in a scratch database, one table of `count` synthetic vectors (bench/scale_vectors.py: mixes
of the real papers' vectors, the same as bench/scale.py's first `count` papers) and, per type, the
HNSW index search/pg_vectors.py builds (cosine, its m and ef_construction unless given), under the
maintenance_work_mem it would ask for and `max_parallel_maintenance_workers` = `--workers`. For each
it reports the build's wall time and the CPU seconds of the server (the backend and its parallel
workers), the index's size, and recall@10 against exact search over 200 real title and claim
queries at the ef_search values given. Ends with one line per type:

    type=halfvec count=… build_s=… build_cpu_s=… index_mb=… recall10_ef300=… query_ms=…
"""

from __future__ import annotations

import argparse
import gzip
import os
import sys
import time
from pathlib import Path

import numpy as np
import orjson
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_vectors as sv
from benchdata import LISTING, SCIFACT, add_data_option, data_dir
from papertrend.search.pg_vectors import EF_CONSTRUCTION, EF_SEARCH, M, build_memory_mb
from scale import queries_for


def server_cpu(conn: psycopg.Connection) -> float:
    """CPU seconds of this backend plus its postmaster's reaped children (the parallel workers)."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]

    def ticks(p: int, first: int, last: int) -> tuple[int, int]:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[first - 3 : last - 2]), int(fields[1])

    own, ppid = ticks(pid, 14, 15)
    children, _ = ticks(ppid, 16, 17)
    return (own + children) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--postgres", required=True, metavar="ADMIN_URL")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--types", default="vector,halfvec")
    parser.add_argument("--m", type=int, default=M)
    parser.add_argument("--ef-construction", type=int, default=EF_CONSTRUCTION)
    parser.add_argument("--ef-search", default=f"100,{EF_SEARCH}")
    parser.add_argument("--workers", type=int, default=1)
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, LISTING, SCIFACT)
    with gzip.open(ns.data / LISTING, "rb") as fh:
        real = [orjson.loads(line) for line in fh]
    queries = queries_for(real, ns.data, 200)
    from papertrend.search.embedder import get_embedder, query_text

    qvecs = get_embedder(ns.model).embed([query_text(q) for q in queries])
    matrix = sv.synthetic(
        sv.real_vectors(ns.data, ns.model, [str(r["id"]) for r in real]), sv.source_rows(ns.count, len(real))
    )
    dim = matrix.shape[1]
    keys = np.arange(1, ns.count + 1, dtype=np.int64)
    exact = sv.exact_top(matrix, keys, qvecs, 10)
    admin = ns.postgres.replace("+psycopg", "")
    name = f"scale_pgvector_{ns.model}_{ns.count}"
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0] + f"/{name}"
    lines = []
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        have = conn.execute("SELECT to_regclass('vecs') IS NOT NULL").fetchone()
        if not (have and have[0]):
            conn.execute(f"CREATE TABLE vecs (id int PRIMARY KEY, v vector({dim}))")
            with conn.cursor().copy("COPY vecs (id, v) FROM STDIN WITH (FORMAT BINARY)") as copy:
                copy.write(b"PGCOPY\n\xff\r\n\0" + bytes(8))
                row = np.dtype(
                    [("fields", ">i2"), ("l_id", ">i4"), ("id", ">i4"), ("l_v", ">i4"), ("dim", ">u2"),
                     ("unused", ">u2"), ("v", ">f4", (dim,))]
                )  # fmt: skip
                rec = np.zeros(ns.count, dtype=row)
                rec["fields"], rec["l_id"], rec["id"] = 2, 4, keys
                rec["l_v"], rec["dim"], rec["v"] = 4 + 4 * dim, dim, matrix
                copy.write(rec.tobytes())
                copy.write(b"\xff\xff")
            conn.execute("ANALYZE vecs")
        for kind in ns.types.split(","):
            ops = f"{kind}_cosine_ops"
            expr = f"(v::{kind}({dim}))"
            index = f"vecs_{kind}_m{ns.m}_ef{ns.ef_construction}"
            conn.execute(f"SET maintenance_work_mem = '{build_memory_mb(rows=ns.count, dim=dim)}MB'")
            conn.execute(f"SET max_parallel_maintenance_workers = {ns.workers}")
            # One graph per type on the table: with two, the planner may answer from the other one
            # (a run at m 16 / ef_construction 128 reported the recall of the m 16 / 64 index left there).
            for (other,) in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'vecs' AND indexname LIKE %s",
                (f"vecs_{kind}_m%",),
            ).fetchall():
                if other != index:
                    conn.execute(f"DROP INDEX {other}")
            built = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (index,)).fetchone()
            wall = cpu = float("nan")
            if not (built and built[0]):
                t0, c0 = time.perf_counter(), server_cpu(conn)
                conn.execute(
                    f"CREATE INDEX {index} ON vecs USING hnsw ({expr} {ops}) "
                    f"WITH (m = {ns.m}, ef_construction = {ns.ef_construction})"
                )
                wall, cpu = time.perf_counter() - t0, server_cpu(conn) - c0
            size = conn.execute("SELECT pg_relation_size(%s)", (index,)).fetchone()[0]  # type: ignore[index]
            parts = [
                f"type={kind} count={ns.count} m={ns.m} ef_construction={ns.ef_construction}",
                f"workers={ns.workers} build_s={wall:.0f} build_cpu_s={cpu:.0f} index_mb={size / 2**20:.0f}",
            ]
            for ef in [int(x) for x in ns.ef_search.split(",")]:
                found = []
                t0 = time.perf_counter()
                with conn.transaction():
                    conn.execute(f"SET LOCAL hnsw.ef_search = {ef}")
                    for q in qvecs:
                        literal = "[" + ",".join(f"{x:.7g}" for x in q) + "]"
                        rows = conn.execute(
                            f"SELECT id FROM vecs ORDER BY {expr} <=> %s::{kind}({dim}) LIMIT 10", (literal,)
                        ).fetchall()
                        found.append([r[0] for r in rows])
                ms = (time.perf_counter() - t0) * 1000 / len(qvecs)
                parts.append(f"recall10_ef{ef}={sv.recall_at(found, exact):.3f} query_ms_ef{ef}={ms:.1f}")
            parts.append(f"load={sv.load():.1f}")
            lines.append(" ".join(parts))
            print(lines[-1], flush=True)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
