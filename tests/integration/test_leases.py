"""Job leases (issue #6): each periodic job runs in one worker at a time and once per period, and a
dead worker's job is taken over once its lease expires — on SQLite and on PostgreSQL."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.leases import Leases, job_leases

HOUR = timedelta(hours=1)


class Clock:
    """A wall clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.t


def _row(engine: Engine, name: str) -> sa.Row[tuple[object, ...]]:
    with reading(engine) as conn:
        return conn.execute(sa.select(job_leases).where(job_leases.c.name == name)).one()


def test_one_worker_per_period(engine: Engine) -> None:
    clock = Clock()
    a = Leases(engine=engine, owner="a", now=clock)
    b = Leases(engine=engine, owner="b", now=clock)
    assert a.acquire(name="ingest", every=HOUR)
    assert not b.acquire(name="ingest", every=HOUR)  # held
    a.release(name="ingest", ok=True, summary="12 added")
    clock.t += timedelta(minutes=10)
    assert not b.acquire(name="ingest", every=HOUR)  # free, but ran 10 minutes ago
    assert not a.acquire(name="ingest", every=HOUR)
    clock.t += HOUR
    assert b.acquire(name="ingest", every=HOUR)
    row = _row(engine, "ingest")
    assert (row.owner, row.started_at, row.ok, row.summary) == ("b", clock.t, True, "12 added")
    # Jobs are independent of each other.
    assert a.acquire(name="embed", every=timedelta(minutes=1))


def test_a_dead_workers_job_is_taken_over_when_its_lease_expires(engine: Engine) -> None:
    clock = Clock()
    dead = Leases(engine=engine, owner="dead", lease=timedelta(minutes=2), now=clock)
    alive = Leases(engine=engine, owner="alive", lease=timedelta(minutes=2), now=clock)
    assert dead.acquire(name="ingest", every=HOUR)  # ... and is killed: no release, no renewal
    clock.t += timedelta(minutes=1)
    assert not alive.acquire(name="ingest", every=HOUR)
    clock.t += timedelta(minutes=2)
    # Within the hour, but the last run never finished: taken over at once.
    assert alive.acquire(name="ingest", every=HOUR)
    # The dead worker cannot renew or release what is no longer its own.
    assert not dead.renew(name="ingest")
    dead.release(name="ingest", ok=True, summary="late")
    assert _row(engine, "ingest").owner == "alive"


def test_a_host_local_lease_of_a_dead_process_on_this_host_is_taken_over_at_once(engine: Engine) -> None:
    clock = Clock()
    # A real process of this host that held the lease and died (a killed ingest), and a live one.
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        host = socket.gethostname()
        for holder, local, taken in (
            (alive.pid, True, False),
            (gone.pid, False, False),
            (gone.pid, True, True),
        ):
            name = f"index-{holder}-{local}"
            owner = f"{host}:{holder}:abcd"
            assert Leases(engine=engine, owner=owner, now=clock).acquire(name=name, every=HOUR)
            clock.t += timedelta(seconds=5)  # well within its 2-minute lease
            # A job of any worker waits for the lease to expire (a container may share the host name).
            took = Leases(engine=engine, now=clock).acquire(name=name, every=HOUR, host_local=local)
            assert took is taken
    finally:
        alive.kill()
        alive.wait()


def test_of_simultaneous_workers_exactly_one_gets_the_job(engine: Engine) -> None:
    workers = [Leases(engine=engine, owner=f"w{i}") for i in range(4)]
    start = threading.Barrier(len(workers))
    won: list[str] = []

    def race(leases: Leases) -> None:
        start.wait()
        if leases.acquire(name="ingest", every=HOUR):
            won.append(leases.owner)

    threads = [threading.Thread(target=race, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(won) == 1 and _row(engine, "ingest").owner == won[0]


def test_hold_renews_while_running_and_records_failures(engine: Engine) -> None:
    leases = Leases(engine=engine, owner="w", lease=timedelta(seconds=6))
    with leases.hold(name="embed", every=timedelta(seconds=1)) as held:
        assert held
        first = _row(engine, "embed").lease_until
        time.sleep(3)  # the heartbeat renews at a third of the lease
        assert _row(engine, "embed").lease_until > first
    row = _row(engine, "embed")
    assert row.owner is None and row.ok is True and row.finished_at >= row.started_at

    time.sleep(1.1)
    with (
        pytest.raises(RuntimeError, match="upstream down"),
        leases.hold(name="embed", every=timedelta(seconds=1)) as held,
    ):
        assert held
        raise RuntimeError("upstream down")
    row = _row(engine, "embed")
    assert row.owner is None and row.ok is False and row.summary == "RuntimeError: upstream down"
    # Someone else holding it: the block runs knowing it does not have it.
    other = Leases(engine=engine, owner="other")
    assert other.acquire(name="digest", every=HOUR)
    with leases.hold(name="digest", every=HOUR) as held:
        assert not held
    assert _row(engine, "digest").owner == "other"
