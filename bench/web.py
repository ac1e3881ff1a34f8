"""Web pages under load (issue #4 item 9): requests/s and p50/p95/p99 per route at 50 concurrent
connections, with the ~85k papers loaded.

    .venv/bin/python bench/web.py [--connections 50] [--seconds 10] [--workers 1]
                                  [--routes home,trending,search,api] [--model wordllama]

1. The store: a copy of bench/latency.py's 85k store (the arXiv listing file plus the Hugging Face
   archive, vectors of `--model`) under var/bench/web-85k/, with 50,000 upvotes by 2,000 users spread
   over the last month of papers, so trending and "most upvoted" have our own votes to count. Built
   once and reused (delete the folder to rebuild).
2. The server: `papertrend serve --no-worker --workers N` in its own process, as a user runs it.
3. The load: one asyncio client holding `--connections` keep-alive HTTP/1.1 connections, each
   sending its next request as soon as the last answer is in (a closed loop, like wrk), for a warm-up
   and then `--seconds` per route. `search` sends a query never asked before each time (the opening
   words of 5,000 random stored titles, as people type them), so it measures search itself, not the
   page cache; `search-popular` cycles through 20 queries, as a site where many ask the same.
   Latency is measured per request from the first byte written to the last byte read; any non-200
   answer counts as an error and is printed.

The client shares the machine's cores with the server, as wrk would on one box; its own cost is a few
per cent of a core at these rates.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote_plus

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir
from latency import ROOT, build, title_queries
from papertrend.accounts.tables import users
from papertrend.db import create_engine, transaction
from papertrend.migrate import upgrade
from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers, votes
from papertrend.search.embedder import get_embedder

VOTES = 50_000
VOTERS = 2_000


def prepare(model: str) -> Path:
    """var/bench/web-85k/: the latency bench's 85k store plus our own upvotes, made once."""
    folder = ROOT / "var" / "bench" / "web-85k"
    if (folder / "ready").exists():
        return folder
    source = build("85k", model, get_embedder(model).dim)
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    shutil.copyfile(source / "bench.db", folder / "bench.db")
    if (source / "index").exists():
        shutil.copytree(source / "index", folder / "index")
    engine = create_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade(engine)
    _add_votes(engine)
    engine.dispose()
    (folder / "ready").touch()
    return folder


def _add_votes(engine: sa.Engine) -> None:
    """VOTES upvotes by VOTERS users, skewed toward a few papers of the last month, as real ones are."""
    rng = random.Random(4)
    now = datetime.now(UTC)
    with transaction(engine) as conn:
        day = listing_day_expr()
        latest = conn.execute(sa.select(sa.func.max(day))).scalar_one()
        recent = [
            pk for (pk,) in conn.execute(sa.select(papers.c.pk).where(day >= latest - timedelta(days=31)))
        ]
        conn.execute(
            users.insert(),
            [
                {
                    "email": f"voter{i}@bench.invalid",
                    "email_key": f"voter{i}@bench.invalid",
                    "created_at": now,
                }
                for i in range(VOTERS)
            ],
        )
        voter_ids = [uid for (uid,) in conn.execute(sa.select(users.c.id))]
        pairs: set[tuple[int, int]] = set()
        while len(pairs) < VOTES:
            # Half the votes on a few popular papers, half spread evenly.
            popular = recent[min(int(rng.paretovariate(1.2)) - 1, len(recent) - 1)]
            pairs.add((rng.choice(voter_ids), popular if rng.random() < 0.5 else rng.choice(recent)))
        conn.execute(
            votes.insert(),
            [{"user_id": u, "paper_pk": p, "created_at": now} for u, p in pairs],
        )
    print(f"added {VOTES:,} upvotes by {VOTERS:,} users over {len(recent):,} recent papers", flush=True)


# ----------------------------------------------------------------------------------------- the server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(folder: Path, *, model: str, workers: int) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    env = {
        **os.environ,
        "PAPERTREND_DATABASE_URL": f"sqlite:///{folder / 'bench.db'}",
        "PAPERTREND_DATA_DIR": str(folder),
        "PAPERTREND_EMBEDDING_MODEL": model,
        "PAPERTREND_LOG_LEVEL": "WARNING",
    }
    cmd = [sys.executable, "-m", "papertrend", "serve", "--no-worker", "--port", str(port)]
    cmd += ["--workers", str(workers)]
    log = (folder / "server.log").open("wb")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the server exited with {proc.returncode}; see {folder / 'server.log'}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("the server did not answer /healthz within 120 s")


def wait_for_keyword_index(port: int, workers: int, timeout: float = 600) -> float:
    """Seconds until every process has synced the host's keyword index (`keywordIndex: ready`).

    Each /healthz lands on whichever process accepts it, so wait for 5 answers per process in a row.
    """
    start = time.monotonic()
    in_a_row = 0
    while time.monotonic() - start < timeout:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
            ready = json.loads(r.read()).get("keywordIndex") == "ready"
        in_a_row = in_a_row + 1 if ready else 0
        if in_a_row >= 5 * workers:
            return time.monotonic() - start
        time.sleep(0.05 if ready else 0.5)
    raise SystemExit("the keyword index was not built within the timeout")


def memory_mb(proc: subprocess.Popen[bytes]) -> tuple[float, float]:
    """(private, file-backed) MB of the server and its worker processes. File-backed pages (the
    memory-mapped database, the vector index file) are shared between processes and with the OS
    page cache, so RSS, which counts them in every process, overstates what the server costs."""
    private = mapped = 0
    for pid in [proc.pid, *(int(p) for p in _children(proc.pid))]:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]
        except OSError:
            continue
        fields = {k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in lines)}
        private += fields.get("Anonymous", 0)
        mapped += fields.get("Rss", 0) - fields.get("Anonymous", 0)
    return private / 1024, mapped / 1024


def _children(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return []


# ----------------------------------------------------------------------------------------- the load


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    bytes: int = 0


async def _request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str) -> tuple[int, int]:
    """One keep-alive GET; (status, body length)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nAccept: text/html\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    await reader.readexactly(length)
    return status, length


async def _connection(port: int, paths: Iterator[str], until: list[float], tally: Tally) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until[0]:
            path = next(paths)
            t0 = time.perf_counter()
            status, length = await _request(reader, writer, path)
            if time.perf_counter() > until[1]:  # past the warm-up
                tally.latencies_ms.append((time.perf_counter() - t0) * 1000)
                tally.bytes += length
                if status != 200:
                    key = f"{status} {path}"
                    tally.errors[key] = tally.errors.get(key, 0) + 1
    finally:
        writer.close()


async def load(
    port: int, paths: list[str], *, connections: int, seconds: float, warmup: float
) -> tuple[Tally, float]:
    tally = Tally()
    start = time.perf_counter()
    until = [start + warmup + seconds, start + warmup]
    # Connections share one iterator, so no path is sent twice until all have been sent once.
    shared = iter(itertools.cycle(paths))
    await asyncio.gather(*(_connection(port, shared, until, tally) for _ in range(connections)))
    return tally, seconds


def routes(queries: list[str]) -> dict[str, list[str]]:
    search = [f"/search?q={quote_plus(q)}" for q in queries]
    return {
        "home": ["/"],
        "trending": ["/papers/trending"],
        "search": search,
        "search-popular": search[:20],
        "api": ["/api/daily_papers"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=1, help="`papertrend serve --workers`")
    parser.add_argument("--routes", default="home,trending,search,search-popular,api")
    parser.add_argument("--model", default="wordllama")
    ns = parser.parse_args()
    if not (ROOT / "var" / "bench" / "web-85k").exists():  # made once from the data sets
        data_dir(ns.data, LISTING, HF_DAYS)
    folder = prepare(ns.model)
    # bench/latency.py's title openings, each sent once.
    table = routes(list(dict.fromkeys(title_queries(folder, 5000))))
    proc, port = start_server(folder, model=ns.model, workers=ns.workers)
    rows = []
    try:
        waited = wait_for_keyword_index(port, ns.workers)
        print(f"keyword index ready after {waited:.0f} s", flush=True)
        print(
            "server memory at start: {:.0f} MB private, {:.0f} MB file-backed (shared)".format(
                *memory_mb(proc)
            )
        )
        for name in ns.routes.split(","):
            tally, seconds = asyncio.run(
                load(port, table[name], connections=ns.connections, seconds=ns.seconds, warmup=ns.warmup)
            )
            rows.append((name, table[name][0], tally, seconds))
            for what, n in sorted(tally.errors.items()):
                print(f"  {name}: {n} × {what}", flush=True)
        after = memory_mb(proc)
        print("server memory after the run: {:.0f} MB private, {:.0f} MB file-backed (shared)".format(*after))
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    print(
        f"\n{ns.connections} connections, {ns.seconds:.0f} s per route after {ns.warmup:.0f} s warm-up,"
        f" `serve --workers {ns.workers}`, {os.cpu_count()} cores shared with the client"
    )
    header = ("route", "example", "requests", "req/s", "p50 ms", "p95 ms", "p99 ms", "KB/resp", "errors")
    widths = (15, 26, 9, 7, 7, 7, 7, 8, 7)
    print(
        " ".join(
            f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    for name, example, tally, seconds in rows:
        lat = tally.latencies_ms
        n = len(lat)
        qs = statistics.quantiles(lat, n=100) if n > 1 else [float("nan")] * 99
        cells = (
            f"{n:,}",
            f"{n / seconds:.0f}",
            f"{statistics.median(lat) if lat else float('nan'):.1f}",
            f"{qs[94]:.1f}",
            f"{qs[98]:.1f}",
            f"{tally.bytes / max(n, 1) / 1024:.1f}",
            str(sum(tally.errors.values())),
        )
        row = f"{name:<15} {example[:26]:<26} "
        print(row + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths[2:], strict=True)))


if __name__ == "__main__":
    main()
