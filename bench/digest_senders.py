"""Several `digest run` processes on one database (bench/digest.py --database-url, issue #6): each
N of --workers sends the same subscribers' editions to one sink; every recipient must get exactly
one copy of their edition."""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from digest_sink import received, start_sink, stop_sink
from digest_store import (
    add_subscribers,
    bench_clock,
    build_store,
    copy_store,
    reset_digest_tables,
    topic_pool,
)

ROOT = Path(__file__).resolve().parents[1]


def start_senders(
    n: int, *, url: str, port: int, work: Path, now: datetime, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """`n` `digest run` processes at once, each with its own data directory (journal) and log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=url,
        PAPERTREND_MAIL_URL=f"smtp://127.0.0.1:{port}",
        PAPERTREND_MAIL_RATE="0",
        PAPERTREND_MAIL_CONCURRENCY=str(args.concurrency),
        PAPERTREND_EMBEDDING_MODEL=args.model,
    )
    cmd = [
        sys.executable,
        "-m",
        "papertrend.digest.cli",
        "run",
        "--now",
        now.isoformat(),
        "--mode",
        args.mode,
    ]
    procs = []
    for i in range(n):
        with (work / f"sender{i}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    cmd,
                    env={**env, "PAPERTREND_DATA_DIR": str(work / f"sender{i}")},
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return procs


def outcome(engine: Any, got: list[tuple[str, str]]) -> tuple[int, int, int, Counter[str]]:
    """(digests delivered, recipients with more than one copy of their edition, due recipients with
    none, edition statuses), from the outbox and what the sink received."""
    from papertrend.db import reading
    from papertrend.digest.tables import digest_editions, subscriptions

    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(subscriptions.c.email_key, digest_editions.c.message_id, digest_editions.c.status).join(
                subscriptions, subscriptions.c.id == digest_editions.c.subscription_id
            )
        ).all()
    copies = Counter((rcpt.lower(), mid) for rcpt, mid in got)
    # An edition composed empty is never mailed; every other one must arrive exactly once.
    due = [(str(email), str(mid)) for email, mid, status in rows if status != "empty"]
    delivered = sum(1 for key in due if copies[key] >= 1)
    duplicates = sum(1 for key in due if copies[key] > 1)
    lost = sum(1 for key in due if copies[key] == 0)
    return delivered, duplicates, lost, Counter(str(status) for _, _, status in rows)


def several_senders(args: argparse.Namespace) -> bool:
    """N `digest run` processes on one database, for each N of --workers; whether all were exact."""
    from papertrend.db import create_engine

    db = build_store(args.model, embed=args.mode != "keyword")
    copy_store(args.database_url, db)
    engine = create_engine(args.database_url)
    latest, now = bench_clock(engine)
    pool = topic_pool(engine, random.Random(5), args.topics)
    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    results = []
    exact = True
    try:
        # What every process pays before its first digest: start, migrations check, model load.
        reset_digest_tables(engine)
        (work / "idle").mkdir()
        sink, port = start_sink(work / "idle" / "sink.tsv")
        try:
            t0 = time.perf_counter()
            [idle] = start_senders(
                1, url=args.database_url, port=port, work=work / "idle", now=now, args=args
            )
            idle.wait()
            fixed = time.perf_counter() - t0
        finally:
            stop_sink(sink)
        for n in args.workers:
            reset_digest_tables(engine)
            # The same subscribers for every N.
            rng = random.Random(6)
            add_subscribers(engine, args.subscribers, pool=pool, rng=rng, confirmed=now - timedelta(days=30))
            run_dir = work / f"workers-{n}"
            run_dir.mkdir()
            sink, port = start_sink(run_dir / "sink.tsv", delay=args.sink_delay_ms / 1000)
            try:
                t0 = time.perf_counter()
                procs = start_senders(n, url=args.database_url, port=port, work=run_dir, now=now, args=args)
                codes = [p.wait() for p in procs]
                wall = time.perf_counter() - t0
                time.sleep(0.5)
                got = received(run_dir / "sink.tsv")
            finally:
                stop_sink(sink)
            logs = [(run_dir / f"sender{i}.log").read_text(errors="replace") for i in range(n)]
            sent = [m.group(1) if (m := re.search(r"delivery:\s+(\d+)\s+sent", log)) else "?" for log in logs]
            for i, code in enumerate(codes):
                if code != 0:
                    print(f"sender {i + 1} of {n} exited {code}:\n{logs[i][-3000:]}", flush=True)
            delivered, duplicates, lost, statuses = outcome(engine, got)
            exact = exact and duplicates == 0 and lost == 0 and not any(codes)
            results.append((n, delivered, wall, duplicates, lost, "/".join(sent), statuses, len(got)))
            print(f"  {n} senders: {delivered:,} digests in {wall:.1f} s", flush=True)
    finally:
        # The last run's subscribers and outbox stay to be looked at; the next run starts afresh.
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nsubscribers {args.subscribers:,}  topic pool {len(pool)}  mode {args.mode}"
        f" ({args.model if args.mode != 'keyword' else 'no model'})  SMTP connections per sender"
        f" {args.concurrency}  edition of {latest}  sink delay {args.sink_delay_ms:g} ms a message"
    )
    print(f"database {sa.make_url(args.database_url).render_as_string()}")
    print(
        f"one `digest run` with nothing due (start, migrations check, model load): {fixed:.1f} s, in each row"
    )
    head = f"{'workers':>7}{'digests':>9}{'seconds':>9}{'digests/s':>11}{'duplicates':>12}{'lost':>6}"
    print(f"{head}  sent per sender")
    for n, delivered, wall, duplicates, lost, per_sender, _, _ in results:
        print(
            f"{n:>7}{delivered:>9,}{wall:>9.1f}{delivered / wall:>11.0f}{duplicates:>12}{lost:>6}"
            f"  {per_sender}"
        )
    for n, _, _, _, _, _, statuses, sink_count in results:
        print(f"  {n} senders: editions {dict(sorted(statuses.items()))}, sink received {sink_count:,}")
    print("exactly once: " + ("yes, every run" if exact else "NO: see duplicates, lost and exit codes above"))
    return exact
