"""Job leases: each periodic job runs in one worker at a time and once per period, across the
processes and machines that share one database (issue #6).

A worker takes a job's row with one conditional UPDATE — free (no lease, or an expired one) and due
(its last start is a period old, or its last run never finished) — so of two workers asking at
once exactly one gets it: PostgreSQL re-checks the condition on the row the other just changed,
SQLite serialises the two write transactions. While the job runs a heartbeat keeps extending the
lease; a worker killed mid-job stops renewing it, and once it expires the next worker to ask takes
the job over at once, since its last run never finished. A host's own job (`host_local`: the keyword
index's writer) is taken from a holder whose process died on this host at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import transaction
from papertrend.numbers import whole_number
from papertrend.sql import UTCDateTime, insert_for, metadata

# One row per periodic job (issue #6): which worker holds it until when, and when it last started
# and finished, so that several workers run each job once per period and a dead worker's job is
# taken over when its lease runs out (papertrend.leases).
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("ok", sa.Boolean, nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
)

log = logging.getLogger("papertrend.leases")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def new_owner() -> str:
    """An id for one worker or sender, `host:pid:random`: host and pid tell people reading a lease
    who holds it, and let a later run on the same host see that a dead process held it."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def owner_gone(owner: str | None, lease_until: datetime | None, now: datetime) -> bool:
    """Whether a claim's holder is gone: its lease expired, or it was a process on this host that died."""
    if owner is None or lease_until is None or lease_until <= now:
        return True
    host, _, rest = owner.partition(":")
    pid = whole_number(rest.partition(":")[0])
    if host != socket.gethostname() or pid is None or pid == os.getpid():
        return False
    return not _pid_alive(pid)


class Leases:
    """Take, renew and give back job leases for one worker."""

    def __init__(
        self,
        *,
        engine: Engine,
        lease: timedelta = timedelta(seconds=120),
        owner: str | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.lease = lease
        self.owner = owner or new_owner()
        self.now = now

    def acquire(self, *, name: str, every: timedelta, host_local: bool = False) -> bool:
        """Take the job `name` if no live lease holds it and it is due; True when taken.
        `host_local`: the job is this host's alone (its name holds the host), so a holder whose
        process died is taken over at once, not when its lease expires."""
        now = self.now()
        t = job_leases.c
        with transaction(self.engine) as conn:
            conn.execute(insert_for(conn, job_leases).values(name=name).on_conflict_do_nothing())
            dead = []
            if host_local:
                # A killed ingest kept the host's keyword index unwritable for its 2-minute lease, so
                # the rerun indexed nothing. Only for a host's own jobs: workers sharing a host name
                # but not a process table (containers) must wait for expiry. Matched by owner, so of
                # two takers one wins.
                holder, until = conn.execute(sa.select(t.owner, t.lease_until).where(t.name == name)).one()
                if holder is not None and owner_gone(holder, until, now):
                    dead = [t.owner == holder]
            taken = conn.execute(
                job_leases.update()
                .where(
                    t.name == name,
                    sa.or_(t.lease_until.is_(None), t.lease_until <= now, *dead),
                    sa.or_(
                        t.started_at.is_(None),
                        t.started_at <= now - every,
                        # The last run never finished: its worker died, take it over now.
                        t.finished_at.is_(None),
                        t.finished_at < t.started_at,
                    ),
                )
                .values(owner=self.owner, lease_until=now + self.lease, started_at=now)
            )
            return taken.rowcount == 1

    def renew(self, *, name: str) -> bool:
        """Extend our lease on `name`; False when it is no longer ours."""
        with transaction(self.engine) as conn:
            renewed = conn.execute(
                job_leases.update()
                .where(job_leases.c.name == name, job_leases.c.owner == self.owner)
                .values(lease_until=self.now() + self.lease)
            )
            return renewed.rowcount == 1

    def release(self, *, name: str, ok: bool, summary: str) -> None:
        """Give `name` back and record how its run ended."""
        with transaction(self.engine) as conn:
            released = conn.execute(
                job_leases.update()
                .where(job_leases.c.name == name, job_leases.c.owner == self.owner)
                .values(owner=None, lease_until=None, finished_at=self.now(), ok=ok, summary=summary[:2000])
            )
        if released.rowcount != 1:
            log.warning("job %s: lease was lost while it ran (another worker may have taken it over)", name)

    @contextmanager
    def hold(self, *, name: str, every: timedelta, host_local: bool = False) -> Iterator[bool]:
        """Hold `name` for the duration of the block when it can be taken; yields whether it was.

        An exception in the block is recorded as a failed run and re-raised.
        """
        if not self.acquire(name=name, every=every, host_local=host_local):
            yield False
            return
        stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(name, stop), name=f"lease-{name}", daemon=True)
        beat.start()
        ok, summary = False, ""
        try:
            yield True
            ok = True
        except BaseException as exc:
            summary = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            stop.set()
            beat.join()
            self.release(name=name, ok=ok, summary=summary)

    def _heartbeat(self, name: str, stop: threading.Event) -> None:
        # Renew at a third of the lease, so two missed beats still leave the lease alive.
        while not stop.wait(self.lease.total_seconds() / 3):
            try:
                if not self.renew(name=name):
                    log.warning("job %s: lease taken over by another worker", name)
                    return
            except Exception:
                log.exception("job %s: could not renew the lease; retrying", name)
