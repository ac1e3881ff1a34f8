"""A sender killed mid-batch, its editions settled by a sender with another data directory (issue #6).

Several workers each keep their delivery journal in their own data directory, as on their own
machines. When one dies, another may reach its claimed editions first, and cannot read its journal.
That used to send again every message of the dead sender's batch delivered so far (they were
recorded only with the next claim): dozens of duplicates. Now each delivered message is recorded at
once, and a dead sender's editions wait for its own journal until its lease expires; after that only
the messages it had in flight can go out twice, never zero times.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest.subscriptions import Subscription
from papertrend.digest.tables import digest_editions
from tests.digest_support import SmtpSink, add_papers, add_subscribers, at, paper

N = 200  # two claims of outbox.CLAIM_BATCH: the first sender dies inside its first one
KILL_AFTER = 30
CONCURRENCY = 2
DAY = date(2026, 6, 23)
NOW = at(DAY, 8, 30)
LEASE = timedelta(seconds=600)  # PAPERTREND_MAIL_LEASE_SECONDS' default


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


def _sender(settings: Settings, sink: SmtpSink, data_dir: Path, now: datetime) -> subprocess.Popen[bytes]:
    """`digest run` as a worker whose data directory (so journal) is `data_dir`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=settings.database_url,
        PAPERTREND_DATA_DIR=str(data_dir),
        PAPERTREND_MAIL_URL=sink.url,
        PAPERTREND_MAIL_RATE="0",
        PAPERTREND_MAIL_CONCURRENCY=str(CONCURRENCY),
    )
    cmd = [
        sys.executable,
        "-m",
        "papertrend.digest.cli",
        "run",
        "--mode",
        "keyword",
        "--now",
        now.isoformat(),
    ]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _finish(proc: subprocess.Popen[bytes]) -> str:
    out, _ = proc.communicate(timeout=60)
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-3000:]
    return text


def _kill_mid_batch(settings: Settings, sink: SmtpSink, data_dir: Path) -> None:
    """Start a sender and SIGKILL it the instant the sink has taken KILL_AFTER of its messages."""
    first = _sender(settings, sink, data_dir, NOW)
    try:
        deadline = time.monotonic() + 30
        while len(sink.received) < KILL_AFTER:
            assert time.monotonic() < deadline, "the first sender sent nothing"
            time.sleep(0.005)
        first.send_signal(signal.SIGKILL)
    finally:
        first.wait(10)
    assert first.returncode == -signal.SIGKILL, "the first sender finished before it could be killed"


def _statuses(engine: Engine) -> Counter[str]:
    with reading(engine) as conn:
        return Counter(conn.execute(sa.select(digest_editions.c.status)).scalars())


def _copies(sink: SmtpSink, subs: list[Subscription]) -> dict[str, int]:
    received = sink.by_recipient()
    return {s.email_key: len(received.get(s.email_key, [])) for s in subs}


@pytest.fixture
def subscribers(engine: Engine) -> list[Subscription]:
    add_papers(engine, [paper(f"2606.{i:05d}", f"Paper number {i}", day=DAY, upvotes=i) for i in range(1, 6)])
    return add_subscribers(engine, N, confirmed_at=NOW - timedelta(days=3))


def test_a_dead_senders_editions_wait_for_its_own_journal(
    engine: Engine, settings: Settings, sink: SmtpSink, subscribers: list[Subscription], tmp_path: Path
) -> None:
    _kill_mid_batch(settings, sink, tmp_path / "first")
    killed_at = len(sink.received)

    # Another worker (its own data directory) while the dead one's lease runs: it sends what was
    # never claimed, and leaves the dead sender's editions alone, none sent twice.
    other = _finish(_sender(settings, sink, tmp_path / "other", NOW + timedelta(minutes=5)))
    assert "wait for its journal or its lease" in " ".join(other.split()), other[-3000:]
    assert max(_copies(sink, subscribers).values()) == 1
    assert _statuses(engine)["sending"] > 0

    # The dead worker restarts on its machine: its journal settles the rest, exactly.
    _finish(_sender(settings, sink, tmp_path / "first", NOW + timedelta(minutes=6)))
    assert _statuses(engine) == {"sent": N}
    copies = _copies(sink, subscribers)
    assert copies == {s.email_key: 1 for s in subscribers}, (killed_at, Counter(copies.values()))


def test_once_its_lease_expires_only_what_was_in_flight_goes_out_twice(
    engine: Engine, settings: Settings, sink: SmtpSink, subscribers: list[Subscription], tmp_path: Path
) -> None:
    _kill_mid_batch(settings, sink, tmp_path / "first")
    killed_at = len(sink.received)

    # The dead worker's machine is gone for good: another settles its editions once the lease
    # expires, by a journal that never saw them.
    _finish(_sender(settings, sink, tmp_path / "other", NOW + LEASE + timedelta(minutes=1)))
    assert _statuses(engine) == {"sent": N}
    copies = _copies(sink, subscribers)
    assert min(copies.values()) == 1, "a subscriber got nothing"
    twice = {email: n for email, n in copies.items() if n > 1}
    # At most one message per connection was between the server's acceptance and its record.
    assert len(twice) <= CONCURRENCY and set(twice.values()) <= {2}, (killed_at, twice)
    received = sink.by_recipient()
    assert all(len({m.message_id for m in received[email]}) == 1 for email in twice)
