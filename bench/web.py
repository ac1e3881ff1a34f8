"""Web pages under load (issue #4 item 9): requests/s and p50/p95/p99 per route at 50 concurrent
connections, with the ~85k papers loaded.

    .venv/bin/python bench/web.py [--connections 50] [--seconds 10] [--workers 1]
                                  [--routes home,trending,search,api] [--model wordllama]

1. The store: a copy of bench/latency.py's 85k store (the arXiv listing file plus the Hugging Face
   archive, vectors of `--model`) under var/bench/web-85k/ (web-85k-MODEL/ for another model), with
   50,000 upvotes by 2,000 users spread over the last month of papers, so trending and "most upvoted"
   have our own votes to count. Built once and reused (delete the folder to rebuild).
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

`--in-process N` measures instead what one search page costs: N new queries asked one after another
through the app in this process (no server, no sockets), each page's CPU time (time.process_time, every
thread of the process: the page runs on anyio's worker threads) and wall time. With `--profile` the
same pages run under yappi (every thread; `pip install yappi`), and the functions costing the most
CPU are printed.
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
import urllib.error
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
    """var/bench/web-85k[-MODEL]/: the latency bench's 85k store plus our own upvotes, made once per
    model (one folder for all measured `--model minilm` on WordLlama's vectors: no MiniLM vector)."""
    folder = ROOT / "var" / "bench" / ("web-85k" if model == "wordllama" else f"web-85k-{model}")
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
    """Seconds until every process has synced the host's keyword index (`keywordIndex: ready`) and
    warmed its search (200, not 503).

    Each /healthz lands on whichever process accepts it, so wait for 5 answers per process in a row.
    """
    start = time.monotonic()
    in_a_row = 0
    while time.monotonic() - start < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as r:
                ready = json.loads(r.read()).get("keywordIndex") == "ready"
        except urllib.error.HTTPError as exc:  # 503 while warming: the model, the index, the vocabulary
            exc.close()
            ready = False
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


def cpu_seconds(proc: subprocess.Popen[bytes]) -> float:
    """User + system CPU seconds the server and its worker processes have used so far."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in [proc.pid, *(int(p) for p in _children(proc.pid))]:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


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
    answered: int = 0  # warm-up included


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
            tally.answered += 1
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


def in_process(folder: Path, queries: list[str], *, model: str, profile: bool) -> None:
    """Search pages asked one at a time through the app in this process: CPU and wall ms per page."""
    from fastapi.testclient import TestClient

    from papertrend.config import Settings
    from papertrend.web.app import create_app

    settings = Settings(
        database_url=f"sqlite:///{folder / 'bench.db'}",
        data_dir=folder,
        embedding_model=model,
        log_level="WARNING",
    )
    with TestClient(create_app(settings)) as client:
        deadline = time.monotonic() + 600
        while (
            client.get("/healthz").status_code != 200
            or client.get("/healthz").json()["keywordIndex"] != "ready"
        ):
            if time.monotonic() > deadline:
                raise SystemExit("the app did not get ready within 600 s")
            time.sleep(0.5)
        for q in queries[-20:]:  # warm: first pages fill per-process caches
            client.get(f"/search?q={quote_plus(q)}")
        asked = queries[: len(queries) - 20]
        if profile:
            import yappi

            yappi.set_clock_type("cpu")
            yappi.start(builtins=True)
        cpu, wall = [], []
        for q in asked:
            c0, w0 = time.process_time(), time.perf_counter()
            r = client.get(f"/search?q={quote_plus(q)}", headers={"Accept": "text/html"})
            cpu.append((time.process_time() - c0) * 1000)
            wall.append((time.perf_counter() - w0) * 1000)
            if r.status_code != 200:
                print(f"  {r.status_code} for {q!r}", flush=True)
        if profile:
            yappi.stop()
            stats = yappi.get_func_stats()
            stats.sort("ttot")
            print(
                f"\nyappi, CPU clock, all threads, {len(asked)} pages: top functions by total time per page"
            )
            for f in list(stats)[:60]:
                where = f"{f.module.split('site-packages/')[-1]}:{f.lineno} {f.name}"
                tot, own, calls = (
                    f.ttot / len(asked) * 1000,
                    f.tsub / len(asked) * 1000,
                    f.ncall / len(asked),
                )
                print(f"{tot:8.2f} ms tot {own:7.2f} ms self {calls:7.1f} calls  {where}")
    n = len(asked)
    print(f"\n{n} search pages, each a new query, one at a time in-process (model {model})")
    print(f"CPU ms/page: mean {statistics.fmean(cpu):.1f}, p50 {statistics.median(cpu):.1f}")
    load_now = os.getloadavg()[0]
    print(
        f"wall ms/page: mean {statistics.fmean(wall):.1f}, p50 {statistics.median(wall):.1f}"
        f" (load {load_now:.1f})"
    )
    print(f"pages={n} cpu_ms_mean={statistics.fmean(cpu):.1f} wall_ms_mean={statistics.fmean(wall):.1f}")


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
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="ask N new search queries one at a time through the app in this process",
    )
    parser.add_argument("--profile", action="store_true", help="with --in-process: profile with yappi")
    ns = parser.parse_args()
    if not (ROOT / "var" / "bench" / "web-85k").exists():  # made once from the data sets
        data_dir(ns.data, LISTING, HF_DAYS)
    folder = prepare(ns.model)
    # bench/latency.py's title openings, each sent once.
    unique = list(dict.fromkeys(title_queries(folder, 5000)))
    if ns.in_process:
        # From the end of the list: the server runs send the first ones.
        in_process(folder, unique[-(ns.in_process + 20) :], model=ns.model, profile=ns.profile)
        return
    table = routes(unique)
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
            # CPU over the whole run of the route, warm-up included, per request answered in it.
            server0, client0, load0 = cpu_seconds(proc), time.process_time(), os.getloadavg()[0]
            tally, seconds = asyncio.run(
                load(port, table[name], connections=ns.connections, seconds=ns.seconds, warmup=ns.warmup)
            )
            cpu = (cpu_seconds(proc) - server0, time.process_time() - client0)
            rows.append((name, table[name][0], tally, seconds, cpu, (load0 + os.getloadavg()[0]) / 2))
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
    header = (
        "route",
        "example",
        "requests",
        "req/s",
        "p50 ms",
        "p95 ms",
        "p99 ms",
        "KB/resp",
        "errors",
        "srv CPU ms/req",
        "client CPU ms/req",
        "load",
    )
    widths = (15, 26, 9, 7, 7, 7, 7, 8, 7, 14, 17, 5)
    print(
        " ".join(
            f"{h:<{w}}" if i < 2 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    summary: list[str] = []
    for name, example, tally, seconds, (server_cpu, client_cpu), load_avg in rows:
        lat = tally.latencies_ms
        n = len(lat)
        answered = tally.answered
        qs = statistics.quantiles(lat, n=100) if n > 1 else [float("nan")] * 99
        cells = (
            f"{n:,}",
            f"{n / seconds:.0f}",
            f"{statistics.median(lat) if lat else float('nan'):.1f}",
            f"{qs[94]:.1f}",
            f"{qs[98]:.1f}",
            f"{tally.bytes / max(n, 1) / 1024:.1f}",
            str(sum(tally.errors.values())),
            f"{server_cpu * 1000 / max(answered, 1):.1f}",
            f"{client_cpu * 1000 / max(answered, 1):.2f}",
            f"{load_avg:.1f}",
        )
        row = f"{name:<15} {example[:26]:<26} "
        print(row + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths[2:], strict=True)))
        summary += [f"{name}_rps={cells[1]}", f"{name}_p95_ms={cells[3]}", f"{name}_cpu_ms={cells[7]}"]
    print(" ".join(summary))


if __name__ == "__main__":
    main()
