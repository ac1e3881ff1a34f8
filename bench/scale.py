"""Scale bench (issue #15 item 5): 1M and 3M papers made from the real 74,728-paper listing.

Each synthetic paper recombines real text so term statistics stay realistic: the title of one real
paper, the first half of another's abstract and the second half of a third's, the authors and
categories of a fourth, with a fresh arXiv-style id and a listing day spread over 2017–2025. The
JSON-lines file is written once under the cache folder and reused; so is each store.

    .venv/bin/python bench/scale.py [--scales 1M] [--cache var/bench/scale] [--postgres ADMIN_URL]
        [--queries 200]

Per scale and database it measures: ingest papers/s through `papertrend ingest jsonl` (keyword index
included, as users run it), the keyword index's size on disk, keyword search p50/p95 (limit 100, as
hybrid search reads it) over 200 queries — real title openings and SciFact claims — in a fresh
process, that process's private memory (`private_mb`: its anonymous memory, /proc/self/smaps_rollup
Anonymous; `unshared_mb` adds the index's file pages only it has mapped so far, Private_Clean, which
the page cache shares with every other process that maps them) and its time from start to ready
(index opened, first query answered); measured at 1M in docs/all-of-arxiv.md. It ends with one line
per scale and database:

    scale=1M db=sqlite papers=… ingest_per_s=… keyword_index_mb=… keyword_p50_ms=… keyword_p95_ms=…
    private_mb=… ready_s=… load=…

A skeleton for the keyword side. Still to add for item 5: vectors (embed a few thousand real papers
once, give each synthetic paper the normalised mix of its sources' vectors) and hybrid p50/p95 with
the query embedded. Disk: the 1M file and stores are measured by this bench (docs/all-of-arxiv.md);
3M is about three times that, within the 64 GB free here; the keyword side needs no RAM of its own
(the index is memory-mapped).
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
from datetime import date, timedelta
from pathlib import Path

import orjson
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

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
    rng = random.Random(seed)
    tmp = path.with_suffix(".part")
    per_month: dict[str, int] = {}
    with open(tmp, "wb") as out:
        for i in range(count):
            a, b, c, d = (real[rng.randrange(len(real))] for _ in range(4))
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


def ingest(url: str, data: Path, jsonl: Path) -> tuple[float, int]:
    """Ingest the file through the CLI into a migrated database; (seconds, papers)."""
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
    done = subprocess.run(
        [sys.executable, "-m", "papertrend", "ingest", "jsonl", str(jsonl)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"ingest failed:\n{done.stdout}\n{done.stderr}")
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        papers = int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    engine.dispose()
    return seconds, papers


# What a fresh web-like process does: open the keyword index, answer the queries, report.
_PROBE = r"""
import json, statistics, sys, time
t0 = time.perf_counter()
from papertrend.db import create_engine, reading
from papertrend.search import keyword
url, data, queries = sys.argv[1], sys.argv[2], json.loads(open(sys.argv[3]).read())
engine = create_engine(url)
index = keyword.open_index(engine=engine, data_dir=__import__("pathlib").Path(data), check_every=3600)
times = []
with reading(engine) as conn:
    keyword.search(conn=conn, query=queries[0], limit=10)
    ready = time.perf_counter() - t0
    for q in queries:
        t1 = time.perf_counter()
        keyword.search(conn=conn, query=q, limit=100)
        times.append((time.perf_counter() - t1) * 1000)
private = anon = 0
for line in open("/proc/self/smaps_rollup"):
    if line.startswith(("Private_Clean", "Private_Dirty")):
        private += int(line.split()[1])
    if line.startswith("Anonymous"):
        anon += int(line.split()[1])
qs = statistics.quantiles(times, n=100)
out = {"ready_s": ready, "p50": statistics.median(times), "p95": qs[94], "private_mb": anon / 1024,
       "unshared_mb": private / 1024}
print(json.dumps({**out, "docs": index.documents}))
"""


def probe(url: str, data: Path, queries: list[str]) -> dict[str, float]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as fh:
        json.dump(queries, fh)
    env = {**os.environ, "PAPERTREND_ENV": "test"}
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, url, str(data), fh.name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
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
    parser.add_argument("--queries", type=int, default=200)
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, LISTING, SCIFACT)
    real = _real(ns.data / LISTING)
    queries = queries_for(real, ns.data, ns.queries)
    lines = []
    for scale in ns.scales.split(","):
        count = SCALES[scale]
        folder = ns.cache / scale
        folder.mkdir(parents=True, exist_ok=True)
        jsonl = folder / "papers.jsonl"
        t0 = time.perf_counter()
        make_file(jsonl, count, real)
        print(f"[{scale}] {jsonl} ready in {time.perf_counter() - t0:.0f}s", flush=True)
        targets = [("sqlite", f"sqlite:///{folder / 'sqlite.db'}", folder / "sqlite-data")]
        if ns.postgres:
            name = f"scale_{scale.lower()}"
            admin = sa.create_engine(ns.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                if not conn.execute(
                    sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
                ).first():
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            admin.dispose()
            url = sa.make_url(ns.postgres).set(database=name).render_as_string(hide_password=False)
            targets.append(("postgresql", url, folder / "pg-data"))
        for db, url, data in targets:
            done = folder / f"{db}.ingested.json"
            if done.exists():
                result = json.loads(done.read_text())
            else:
                seconds, papers = ingest(url, data, jsonl)
                result = {"seconds": seconds, "papers": papers, "run": uuid.uuid4().hex[:6]}
                done.write_text(json.dumps(result))
            measured = probe(url, data, queries)
            line = (
                f"scale={scale} db={db} papers={result['papers']}"
                f" ingest_per_s={result['papers'] / result['seconds']:.0f}"
                f" keyword_index_mb={dir_mb(data / 'keyword'):.0f} keyword_p50_ms={measured['p50']:.1f}"
                f" keyword_p95_ms={measured['p95']:.1f} private_mb={measured['private_mb']:.0f}"
                f" unshared_mb={measured['unshared_mb']:.0f}"
                f" ready_s={measured['ready_s']:.2f} load={os.getloadavg()[0]:.1f}"
            )
            print(line, flush=True)
            lines.append(line)
    print()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
