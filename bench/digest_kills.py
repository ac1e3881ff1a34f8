"""SIGKILL runs of bench/digest.py (--kills): 100 subscribers, the sender killed at a random message
(at a random instant, or inside the accepted-but-not-recorded window), then run again; every
subscriber must end with exactly one message."""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

from digest_sink import received, start_sink, stop_sink

ROOT = Path(__file__).resolve().parents[1]


def kill_runs(args: argparse.Namespace) -> tuple[int, int, int]:
    """`--kills` SIGKILL runs; (runs exactly once, messages lost, messages duplicated)."""
    from tests.digest_support import add_papers, paper
    from tests.digest_support import add_subscribers as add_real_subscribers

    from papertrend.db import create_engine, reading
    from papertrend.digest.tables import digest_editions
    from papertrend.migrate import upgrade

    rng = random.Random(args.kill_seed)
    ok = losses = duplicates = 0
    kinds: Counter[str] = Counter()
    day = date(2026, 6, 23)
    now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8, minutes=30)
    for run in range(args.kills):
        work = Path(tempfile.mkdtemp(prefix="digest-kill-"))
        db = work / "k.db"
        engine = create_engine(f"sqlite:///{db}")
        upgrade(engine)
        add_papers(engine, [paper(f"2606.{i:05d}", f"Paper {i}", day=day, upvotes=i) for i in range(1, 6)])
        add_real_subscribers(engine, 100, confirmed_at=now - timedelta(days=3))
        sink, port = start_sink(work / "sink.tsv")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
        env.update(
            PAPERTREND_ENV="test",
            PAPERTREND_DATABASE_URL=f"sqlite:///{db}",
            PAPERTREND_DATA_DIR=str(work),
            PAPERTREND_MAIL_URL=f"smtp://127.0.0.1:{port}",
            PAPERTREND_MAIL_RATE="0",
            PAPERTREND_MAIL_CONCURRENCY=str(args.kill_concurrency),
        )
        k = rng.randint(1, 99)
        # Half the kills at the instant the k-th message lands (just after the server accepted it,
        # the hardest instant for the journal), the rest at chosen points around the final dot.
        kind = rng.choice(["instant", "instant", "instant", "before_dot", "after_dot", "after_reply"])
        kinds[kind] += 1
        first_env = dict(env)
        marker = work / "paused"
        if kind != "instant":
            first_env.update(
                PAPERTREND_TEST_MAIL_PAUSE=f"{kind}:{k}", PAPERTREND_TEST_MAIL_PAUSE_FILE=str(marker)
            )
        cmd = [sys.executable, "-m", "papertrend.digest.cli", "run", "--mode", "keyword", "--now"]
        try:
            first = subprocess.Popen(
                [*cmd, now.isoformat()],
                env=first_env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (kind == "instant" and len(received(work / "sink.tsv")) >= k) or marker.exists():
                    break
                time.sleep(0.002)
            if kind == "after_dot":
                time.sleep(0.05)  # let the server read the dot it was sent
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            before = len(received(work / "sink.tsv"))
            subprocess.run(
                [*cmd, (now + timedelta(minutes=5)).isoformat()],
                env=env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )
            time.sleep(0.2)
            got = received(work / "sink.tsv")
            with reading(engine) as conn:
                expected = {mid for (mid,) in conn.execute(sa.select(digest_editions.c.message_id))}
                statuses = set(conn.execute(sa.select(digest_editions.c.status)).scalars())
            per = Counter(rcpt for rcpt, _ in got)
            lost = 100 - len(per)
            doubled = sum(1 for n in per.values() if n > 1)
            exact = lost == 0 and doubled == 0 and {m for _, m in got} == expected and statuses == {"sent"}
            ok += exact
            losses += lost
            duplicates += doubled
            print(
                f"kill run {run + 1:>2}: {kind:<12} k={k:<3} received before kill {before:>3}, "
                f"after rerun {len(got):>3}, lost {lost}, duplicated {doubled} "
                f"→ {'exactly once' if exact else 'NOT exactly once'}",
                flush=True,
            )
        finally:
            stop_sink(sink)
            engine.dispose()
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nexactly-once in {ok} of {args.kills} SIGKILL runs ({dict(kinds)}; "
        f"{args.kill_concurrency} connections): {losses} messages lost, {duplicates} duplicated"
    )
    return ok, losses, duplicates
