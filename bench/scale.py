"""Scale bench (issue #15 item 5): 1M and 3M papers made from the real 74,728-paper listing.

Each synthetic paper recombines real text so term statistics stay realistic: the title of one real
paper, the first half of another's abstract and the second half of a third's, the authors and
categories of a fourth, with a fresh arXiv-style id and a listing day spread over 2017–2025. The
JSON-lines file is written once under the cache folder and reused; so is each store.

    BENCH_RECOMMEND_CACHE=DIR .venv/bin/python bench/scale.py [--scales 1M] [--cache var/bench/scale]
        [--model minilm|wordllama] [--postgres ADMIN_URL [--only-postgres]] [--queries 200]

Each synthetic paper's vector is derived from its source papers' real vectors, which
bench/recommend_data.py embeds once (`--model`): the normalised mix 0.5·title paper + 0.25·each
abstract half's paper + Gaussian noise of norm ~0.1 (bench/scale_vectors.py; embedding 1M papers
here would take days).

Per scale and database, each step once (its result kept beside the store and reused):
- ingest papers/s through `papertrend ingest jsonl` (keyword index included, as users run it) and
  the ingest's CPU seconds;
- the vectors stored in `embeddings` (SQLite: `vectors.store`; PostgreSQL: binary COPY);
- the vector index built as `papertrend embed` builds it (`search.index.prepare`: the shared usearch
  file, or pgvector's HNSW), in a fresh process: wall, CPU (the server's too), and recall@10 against
  exact search over the 200 queries' vectors;
- a fresh process holding the web's `SearchHolder` (web/search_holder.py): time from its start to
  ready (model loaded, vector index opened, first hybrid query answered), then hybrid search p50/p95
  (the query embedded, limit 20) and its CPU ms a query, keyword search p50/p95 (limit 100, as hybrid
  reads it), over 200 queries — real title openings and SciFact claims — and its private memory
  (`private_mb`: anonymous memory, /proc/self/smaps_rollup; `unshared_mb` adds the index file pages
  only it has mapped so far, which the page cache shares with every process that maps them).

Measured at 1M in docs/all-of-arxiv.md. It ends with one line per scale and database:

    scale=1M db=sqlite papers=… model=… ingest_per_s=… index_build_s=… index_cpu_s=… recall10=…
    hybrid_p50_ms=… hybrid_p95_ms=… hybrid_cpu_ms=… keyword_p50_ms=… keyword_p95_ms=… private_mb=…
    unshared_mb=… ready_s=… keyword_index_mb=… vector_index_mb=… [shared_buffers_mb=…] load=…

On PostgreSQL `vector_index_mb` is the HNSW index's size in the server and `shared_buffers_mb` the
server's setting: a graph larger than shared_buffers is read in from the OS cache on every search
(1M: hybrid p95 54.7 ms with 128 MB against 30.2 ms with 3 GB; docs/all-of-arxiv.md).

Disk: the 1M file is 1.6 GB, the SQLite store 2.5 GB and 4 GB with 256-d vectors; 3M is about
three times that, within the 64 GB free here.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scale_vectors as sv
from benchdata import LISTING, SCIFACT, add_data_option, data_dir

SCALES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000, "3M": 3_000_000}
FIRST_DAY, DAYS = date(2017, 1, 2), 9 * 365


def _real(listing: Path) -> list[dict[str, object]]:
    with gzip.open(listing, "rb") as fh:
        return [orjson.loads(line) for line in fh]


def make_file(path: Path, count: int, real: list[dict[str, object]], seed: int = 15) -> None:
    """Write `count` recombined papers (see the module's doc) to a JSON-lines file, once."""
    if path.exists():
        return
    rows = sv.source_rows(count, len(real), seed)
    tmp = path.with_suffix(".part")
    per_month: dict[str, int] = {}
    with open(tmp, "wb") as out:
        for i in range(count):
            a, b, c, d = (real[j] for j in rows[i])
            day = FIRST_DAY + timedelta(days=i * DAYS // count)
            month = f"{day.year % 100:02d}{day.month:02d}"
            n = per_month[month] = per_month.get(month, 0) + 1
            first, second = str(b["abstract"]), str(c["abstract"])
            abstract = first[: len(first) // 2] + second[len(second) // 2 :]
            record = {
                "id": f"{month}.{n:05d}",
                "title": a["title"],
                "abstract": abstract,
                "authors": d.get("authors", []),
                "categories": d.get("categories", ["cs.LG"]),
                "first_listed": day.isoformat(),
            }
            out.write(orjson.dumps(record) + b"\n")
    tmp.replace(path)


def ingest(url: str, data: Path, jsonl: Path) -> tuple[float, float, int]:
    """Ingest the file through the CLI into a migrated database; (wall s, CPU s of the ingest, papers)."""
    env = {
        **os.environ,
        "PAPERTREND_DATABASE_URL": url,
        "PAPERTREND_DATA_DIR": str(data),
        "PAPERTREND_ENV": "test",
    }
    subprocess.run(
        [sys.executable, "-m", "papertrend", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as log:
        child = subprocess.Popen(
            [sys.executable, "-m", "papertrend", "ingest", "jsonl", str(jsonl)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - t0
        if child.returncode != 0:
            log.seek(0)
            raise SystemExit(f"ingest failed:\n{log.read().decode(errors='replace')[-4000:]}")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        papers = int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    engine.dispose()
    return seconds, usage.ru_utime + usage.ru_stime, papers


# What a fresh web process does (web/search_holder.py): open the keyword index, load the model, open
# the vector index (the shared HNSW file on SQLite, pgvector's on PostgreSQL), answer the first query;
# then each query hybrid (embedded on another thread while the keyword search runs, as the web does)
# and keyword only (100 deep, as hybrid reads it).
_PROBE = r"""
import json, os, statistics, sys, time
t0 = time.perf_counter()
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.search import keyword
from papertrend.web.search_holder import SearchHolder
queries = json.loads(open(sys.argv[1]).read())
settings = Settings()
engine = create_engine(settings.database_url)
holder = SearchHolder(settings=settings, engine=engine)
holder.warm()
assert holder.vectors == "ready", holder.unavailable
holder.search(query=queries[0], mode="hybrid", limit=20, filters=holder_filters, sort="relevance")
ready = time.perf_counter() - t0
hybrid, words = [], []
c0 = time.process_time()
for q in queries:
    t1 = time.perf_counter()
    hits, mode = holder.search(query=q, mode="hybrid", limit=20, filters=holder_filters, sort="relevance")
    hybrid.append((time.perf_counter() - t1) * 1000)
    assert mode == "hybrid"
hybrid_cpu = (time.process_time() - c0) * 1000 / len(queries)
with reading(engine) as conn:
    for q in queries:
        t1 = time.perf_counter()
        keyword.search(conn=conn, query=q, limit=100)
        words.append((time.perf_counter() - t1) * 1000)
private = anon = 0
for line in open("/proc/self/smaps_rollup"):
    if line.startswith(("Private_Clean", "Private_Dirty")):
        private += int(line.split()[1])
    if line.startswith("Anonymous"):
        anon += int(line.split()[1])
def pct(xs, p):
    return statistics.quantiles(xs, n=100)[p - 1]
out = {"ready_s": ready, "hybrid_p50": statistics.median(hybrid), "hybrid_p95": pct(hybrid, 95),
       "hybrid_cpu_ms": hybrid_cpu, "keyword_p50": statistics.median(words), "keyword_p95": pct(words, 95),
       "private_mb": anon / 1024, "unshared_mb": private / 1024, "vector_kind": holder._searcher.index.kind}
print(json.dumps(out))
""".replace("holder_filters", "__import__('papertrend.types', fromlist=['Filters']).Filters()")


def probe(url: str, data: Path, model: str, queries: list[str]) -> dict[str, float]:
    """Run the probe in a fresh process against one store."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(queries, fh)
    # The web's settings (not PAPERTREND_ENV=test, which re-checks the keyword index every search).
    env = {
        **{k: v for k, v in os.environ.items() if k != "PAPERTREND_ENV"},
        "PAPERTREND_DATABASE_URL": url,
        "PAPERTREND_DATA_DIR": str(data),
        "PAPERTREND_EMBEDDING_MODEL": model,
    }
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, fh.name], env=env, capture_output=True, text=True, check=False
    )
    os.unlink(fh.name)
    if done.returncode != 0:
        raise SystemExit(f"probe failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def queries_for(real: list[dict[str, object]], data: Path, n: int) -> list[str]:
    """Half title openings (3–6 words, as people type), half SciFact claims."""
    rng = random.Random(11)
    titles = [" ".join(str(r["title"]).split()[: rng.randint(3, 6)]) for r in rng.sample(real, n // 2)]
    claims = [
        str(orjson.loads(line)["text"])
        for line in (data / SCIFACT / "queries.jsonl").read_bytes().splitlines()
    ]
    return titles + rng.sample(claims, n - n // 2)


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 2**20


CACHE = Path(__file__).resolve().parents[1] / "var" / "bench" / "scale"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--scales", default="1M")
    parser.add_argument("--cache", type=Path, default=CACHE)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="also measure on this PostgreSQL server")
    parser.add_argument("--only-postgres", action="store_true", help="skip SQLite")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--model", default="minilm", help="whose cached real vectors (recommend_data.py)")
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, LISTING, SCIFACT)
    real = _real(ns.data / LISTING)
    queries = queries_for(real, ns.data, ns.queries)
    from papertrend.search.embedder import get_embedder, query_text

    embedder = get_embedder(ns.model)
    qvecs = embedder.embed([query_text(q) for q in queries])
    real_vecs = Real(sv.real_vectors(ns.data, ns.model, [str(r["id"]) for r in real]), qvecs)
    lines = []
    for scale in ns.scales.split(","):
        count = SCALES[scale]
        folder = ns.cache / scale
        folder.mkdir(parents=True, exist_ok=True)
        jsonl = folder / "papers.jsonl"
        t0 = time.perf_counter()
        make_file(jsonl, count, real)
        print(f"[{scale}] {jsonl} ready in {time.perf_counter() - t0:.0f}s", flush=True)
        targets = (
            []
            if ns.only_postgres
            else [("sqlite", f"sqlite:///{folder / 'sqlite.db'}", folder / "sqlite-data")]
        )
        if ns.postgres:
            targets.append(
                ("postgresql", postgres_db(ns.postgres, f"scale_{scale.lower()}"), folder / "pg-data")
            )
        for db, url, data in targets:
            lines.append(measure(scale, db, url, data, folder, ns.model, queries, real_vecs))
    print()
    print("\n".join(lines))


@dataclass
class Real:
    """The real papers' vectors and the queries' (one model), and the synthetic ones once made."""

    vectors: np.ndarray
    queries: np.ndarray
    synthetic: np.ndarray | None = None


def measure(
    scale: str, db: str, url: str, data: Path, folder: Path, model: str, queries: list[str], real: Real
) -> str:
    """Ingest, store vectors, build the index and probe one store (each step once); its summary line."""
    jsonl = folder / "papers.jsonl"
    result = once(folder / f"{db}.ingested.json", lambda: ingest_result(url, data, jsonl))
    exact_file = folder / f"{db}.{model}.exact.npz"

    def store() -> dict[str, Any]:
        if real.synthetic is None or len(real.synthetic) != result["papers"]:
            real.synthetic = sv.synthetic(real.vectors, sv.source_rows(result["papers"], len(real.vectors)))
        ids = [str(orjson.loads(line)["id"]) for line in jsonl.open("rb")]
        pks = sv.paper_pks(url, ids)
        np.savez(
            exact_file,
            queries=real.queries,
            exact=np.asarray(sv.exact_top(real.synthetic, pks, real.queries, 10)),
        )
        wall, cpu = sv.store(url, model, pks, real.synthetic)
        return {"wall_s": wall, "cpu_s": cpu, "load": os.getloadavg()[0]}

    stored = once(folder / f"{db}.{model}.vectors.json", store)
    dim = int(real.vectors.shape[1])
    built = once(folder / f"{db}.{model}.index.json", lambda: sv.build(url, data, model, dim, exact_file))
    print(f"[{scale}/{db}] vectors stored {stored}; index {built}", flush=True)
    measured = probe(url, data, model, queries)
    vector_mb, buffers = dir_mb(data / "index"), ""
    if db == "postgresql":  # the graph lives in the server; how much of it shared_buffers can hold
        vector_mb, buffers_mb = pg_graph_mb(url, model, dim)
        buffers = f" shared_buffers_mb={buffers_mb:.0f}"
    line = (
        f"scale={scale} db={db} papers={result['papers']} model={model}"
        f" ingest_per_s={result['papers'] / result['seconds']:.0f}"
        f" index_build_s={built['wall_s']:.0f}"
        f" index_cpu_s={built['cpu_s'] + built['server_cpu_s']:.0f} recall10={built['recall10']:.3f}"
        f" hybrid_p50_ms={measured['hybrid_p50']:.1f} hybrid_p95_ms={measured['hybrid_p95']:.1f}"
        f" hybrid_cpu_ms={measured['hybrid_cpu_ms']:.1f}"
        f" keyword_p50_ms={measured['keyword_p50']:.1f} keyword_p95_ms={measured['keyword_p95']:.1f}"
        f" private_mb={measured['private_mb']:.0f} unshared_mb={measured['unshared_mb']:.0f}"
        f" ready_s={measured['ready_s']:.2f} keyword_index_mb={dir_mb(data / 'keyword'):.0f}"
        f" vector_index_mb={vector_mb:.0f}{buffers} load={os.getloadavg()[0]:.1f}"
    )
    print(line, flush=True)
    return line


def once(marker: Path, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """The result of `work`, computed once and kept in `marker`."""
    if marker.exists():
        return dict(json.loads(marker.read_text()))
    result = work()
    marker.write_text(json.dumps(result))
    return result


def ingest_result(url: str, data: Path, jsonl: Path) -> dict[str, Any]:
    seconds, cpu, papers = ingest(url, data, jsonl)
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "papers": papers,
        "run": uuid.uuid4().hex[:6],
        "load": os.getloadavg()[0],
    }


def pg_graph_mb(url: str, model: str, dim: int) -> tuple[float, float]:
    """The model's HNSW index and the server's shared_buffers, in MB (search/pg_vectors.py)."""
    from papertrend.search import pg_vectors

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        storage = pg_vectors.storage_in_use(conn=conn, model=model, dim=dim) or pg_vectors.STORAGE
        index, buffers = pg_vectors.index_and_buffer_bytes(conn=conn, model=model, dim=dim, storage=storage)
    engine.dispose()
    return index / 2**20, buffers / 2**20


def postgres_db(admin_url: str, name: str) -> str:
    """The URL of database `name` on the server, created when missing."""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    return sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)


if __name__ == "__main__":
    main()
