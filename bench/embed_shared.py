"""Embedding as shared work (issue #15): papers/s of one `papertrend embed` process against two on one
database, each with one thread, and what SIGKILLs cost.

    .venv/bin/python bench/embed_shared.py [--data DIR] [--papers 3000] [--model minilm]
        [--database-url postgresql+psycopg://…] [--kills 10]

Builds a store of the first N papers of the arXiv listing file (a fresh SQLite file, or the empty
database at --database-url, which it migrates and empties of papers first), then:
1. one process embeds them all (`--threads 1`);
2. the vectors are deleted and two processes embed them together, each `--threads 1`: their summed
   "papers embedded" lines, against N, count papers embedded twice;
3. the vectors are deleted, two processes start, and one of them is SIGKILLed and restarted `--kills`
   times at random moments; then both finish: papers left without a vector are "missed", and claims
   left behind are counted too.
Prints a table and ends with one line: `one_per_s=… two_per_s=… speedup=… duplicates=… missed=…`.
"""

from __future__ import annotations

import argparse
import gzip
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from itertools import islice
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchdata import LISTING, add_data_option, data_dir
from papertrend.db import create_engine, transaction
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from papertrend.papers.tables import papers
from papertrend.search.tables import embed_claims, embeddings

EMBEDDED = re.compile(r"(\d+) papers embedded")


def _store(url: str, listing: Path, n: int, work: Path) -> None:
    engine = create_engine(url)
    upgrade(engine)
    with transaction(engine) as conn:
        conn.execute(papers.delete())
    sample = work / "sample.jsonl"
    with gzip.open(listing, "rt") as src, sample.open("w") as out:
        out.writelines(islice(src, n))
    report = run_ingest(engine=engine, source=JsonlSource(path=sample))
    print(report.summary())
    engine.dispose()


def _count(url: str, table: sa.Table) -> int:
    engine = create_engine(url)
    with engine.connect() as conn:
        value = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    engine.dispose()
    return value


def _reset(url: str) -> None:
    """No vectors, no claims, and on PostgreSQL no HNSW graph, so every run starts alike.

    A graph left by the run before made the later runs pay for inserting into it on the server, on
    the same 2 cores as the embedders, while the first run built it once at the end: two processes
    took 35.3 s with the graph there and 32.9 s without (3,000 papers, MiniLM, one thread each).
    """
    engine = create_engine(url)
    with transaction(engine) as conn:
        conn.execute(embeddings.delete())
        conn.execute(embed_claims.delete())
        if conn.dialect.name == "postgresql":
            names = conn.execute(
                sa.text("SELECT indexname FROM pg_indexes WHERE indexname LIKE 'ix_embeddings_hnsw%'")
            ).scalars()
            for name in list(names):
                conn.execute(sa.text(f'DROP INDEX "{name}"'))
    engine.dispose()


def _start(url: str, work: Path, name: str, model: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAPERTREND_DATABASE_URL": url, "PAPERTREND_DATA_DIR": str(work)}
    log = (work / f"{name}.log").open("wb")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "papertrend",
            "embed",
            "--model",
            model,
            "--threads",
            "1",
            "--batch-size",
            "64",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _embedded(work: Path, name: str) -> int:
    found = EMBEDDED.search((work / f"{name}.log").read_text(errors="replace"))
    if not found:
        sys.exit(f"bench: {name} printed no summary:\n{(work / f'{name}.log').read_text(errors='replace')}")
    return int(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--papers", type=int, default=3000)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--seed", type=int, default=15)
    args = parser.parse_args()
    listing = data_dir(args.data, LISTING) / LISTING
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="embed-shared-") as tmp:
        work = Path(tmp)
        url = args.database_url or f"sqlite:///{work / 'bench.db'}"
        _store(url, listing, args.papers, work)
        _reset(url)
        n = _count(url, papers)

        t0 = time.perf_counter()
        one = _start(url, work, "one", args.model)
        if one.wait() != 0:
            sys.exit((work / "one.log").read_text(errors="replace"))
        one_s = time.perf_counter() - t0

        _reset(url)
        t0 = time.perf_counter()
        pair = [_start(url, work, name, args.model) for name in ("a", "b")]
        if any(p.wait() != 0 for p in pair):
            sys.exit(
                (work / "a.log").read_text(errors="replace") + (work / "b.log").read_text(errors="replace")
            )
        two_s = time.perf_counter() - t0
        split = [_embedded(work, name) for name in ("a", "b")]
        duplicates = sum(split) - n

        _reset(url)
        steady = _start(url, work, "steady", args.model)
        victim = _start(url, work, "victim0", args.model)
        for k in range(args.kills):
            time.sleep(rng.uniform(0.5, 3.0))
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            victim = _start(url, work, f"victim{k + 1}", args.model)
        if steady.wait() != 0 or victim.wait() != 0:
            sys.exit("bench: a process of the kill round failed; see its log")
        missed = n - _count(url, embeddings)
        claims_left = _count(url, embed_claims)

    print(f"\n{'run':<40} {'seconds':>9} {'papers/s':>9}")
    print(f"{'one process, 1 thread':<40} {one_s:>9.1f} {n / one_s:>9.1f}")
    print(f"{'two processes, 1 thread each':<40} {two_s:>9.1f} {n / two_s:>9.1f}")
    print(f"split between the two: {split[0]} + {split[1]} of {n} papers ({duplicates} embedded twice)")
    print(f"{args.kills} SIGKILLs: {missed} papers missed, {claims_left} claims left behind")
    print(f"database: {'PostgreSQL' if url.startswith('postgresql') else 'SQLite'}, model {args.model}")
    print(
        f"one_per_s={n / one_s:.1f} two_per_s={n / two_s:.1f} speedup={one_s / two_s:.2f} "
        f"duplicates={duplicates} missed={missed}"
    )


if __name__ == "__main__":
    main()
