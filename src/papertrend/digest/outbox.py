"""The outbox: every edition delivered exactly once, even across SIGKILL (issue #5).

One row per (subscription, edition date), unique, in `digest_editions`. States::

    composed ─┬─► empty                       (no new papers: nothing to send, terminal)
              └─► queued ──claim──► sending ──250──────────► sent       (terminal)
                    ▲                  │ ├──4xx/timeout──► retry ──(next_attempt_at)──► claim again
                    │                  │ │                  └──(attempts = max)──► failed     (terminal)
                    │                  │ └──5xx───────────► retry … (attempts = bounce_after)──► bounced
                    │                  └──lease expired / owner dead──► recovery (below)
                    └─ unsubscribe, pause or bounce before claim ──► cancelled            (terminal)

**Claim.** A sender claims a few rows in one write transaction (`BEGIN IMMEDIATE` on SQLite,
`FOR UPDATE SKIP LOCKED` on PostgreSQL): status `sending`, its owner id (`host:pid:nonce`) and a
lease. Each delivered message is recorded `sent` as soon as its reply is read, by one statement of its
own, so that a sender that dies leaves only its messages in flight unrecorded (issue #6); failures
are recorded with the next claim, in its transaction. Only rows still owned are updated: a sender
whose lease was taken over never overwrites the new owner's record.

**Recovery.** A `sending` row whose lease expired, or whose owner is a dead process on this host,
belongs to a sender that died. Where it died decides, using the mailer and its journal
(digest/mailer.py: `P` before the final ".", `D` once the "." is in the kernel, `R` the reply),
never the clock:

1. the backend can tell (Maildir: a message with that Message-ID is in the folder) → that answer;
2. the journal has the reply code → as if that reply had just arrived (250 → `sent`, 4xx → `retry`,
   5xx → counted towards `bounced`);
3. the journal has the hand-off (`D`) but no reply → **`sent`**. This is the accepted-but-not-
   recorded window: a server accepts a message once it reads the dot, whether or not we live to
   read its 250. Sending again would make a duplicate;
4. `P` without `D` → `retry`, sent again now: the dot was not sent, but for the window below;
5. no journal line → the message never reached the commit point → `retry`, sent again now.

The journal is local to a data directory, and a sender notes itself in it (an `O` line) before it
claims. A dead process on this host that noted itself in another journal (another data directory:
another machine, as far as recovery can tell) is left to that journal, read when that worker
restarts, until its lease expires; from then on whoever asks settles its rows by what it knows, for a
journal that never saw them rule 5: its messages in flight at the crash go out twice (issue #6).

The window that remains is between the "." entering the kernel and the `D` line (two system calls):
a kill exactly there is settled by rule 4 and makes a second copy with the same Message-ID, never a
loss. Sending from one thread and corking the dot until `D` is written keep it to microseconds
(issue #5: `D` used to be written before the dot, and a second sending thread holding the
interpreter between the two once made a kill lose a message). A duplicate from any other cause (a
server that accepted but answered 4xx) also carries the edition's stable Message-ID, which most
mail clients collapse.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import DigestSettings, digest_settings
from papertrend.digest.compose import Composed, Composer, ComposeReport, Ranker, WindowRanker, compose_due
from papertrend.digest.mailer import (
    Journal,
    Mailer,
    Pause,
    RateLimiter,
    SendError,
    Submitted,
    describe,
    finish,
    make_mailer,
    submit,
)
from papertrend.digest.render import MailContext, ViewCache, render_digest
from papertrend.digest.subscriptions import Subscription, from_row, purge_expired, suppress
from papertrend.digest.tables import digest_editions, sent_papers, subscriptions
from papertrend.leases import new_owner
from papertrend.papers import repository
from papertrend.papers.models import Paper
from papertrend.rank import TrendParams
from papertrend.search import keyword
from papertrend.search.embedder import Embedder
from papertrend.search.types import Filters, Hit

log = logging.getLogger("papertrend.digest")

Status = Literal["empty", "queued", "sending", "sent", "retry", "failed", "bounced", "cancelled"]
MAX_BACKOFF = timedelta(hours=6)
# Claimed (and recorded) per transaction: each claim drains the sender's pipeline and commits.
CLAIM_BATCH = 100
HOST = socket.gethostname()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def owner_dead(owner: str | None, lease_until: datetime | None, now: datetime) -> bool:
    """Whether a `sending` row's sender is gone: lease expired, or a dead process on this host."""
    if owner is None or lease_until is None or lease_until <= now:
        return True
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host != HOST or not pid_text.isdigit() or int(pid_text) == os.getpid():
        return False
    return not _pid_alive(int(pid_text))


def backoff(*, attempts: int, base_seconds: float) -> timedelta:
    """Wait before the next try: base × 2^(attempts−1), at most six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# ------------------------------------------------------------------------------------------ records


@dataclass(frozen=True, slots=True)
class Claimed:
    """One edition a sender holds: what it needs to render and send it."""

    id: int
    sub: Subscription
    edition_date: date
    composed: Composed
    message_id: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one claimed edition."""

    edition_id: int
    subscription_id: int
    attempts: int
    delivered: str | None = None  # delivery id when sent
    error: SendError | None = None
    release: bool = False  # never tried (the run stopped): back to the queue, attempt not counted


@dataclass
class DeliveryReport:
    """What one delivery pass did."""

    sent: int = 0
    retry: int = 0
    failed: int = 0
    bounced: int = 0
    cancelled: int = 0
    recovered: dict[str, int] = field(default_factory=dict)
    waiting: int = 0  # a dead sender's editions left for its own journal until its lease expires
    lost_leases: int = 0
    stopped: str | None = None

    def summary(self) -> str:
        text = (
            f"{self.sent} sent, {self.retry} to retry, {self.failed} failed, {self.bounced} bounced, "
            f"{self.cancelled} cancelled"
        )
        if self.recovered:
            text += ", recovered " + ", ".join(f"{n} {k}" for k, n in sorted(self.recovered.items()))
        if self.waiting:
            text += f", {self.waiting} of a dead sender wait for its journal or its lease"
        if self.stopped:
            text += f"; stopped: {self.stopped}"
        return text


@dataclass(frozen=True, slots=True)
class Policy:
    """Retry and bounce rules, from the settings."""

    max_attempts: int = 8
    bounce_after: int = 2
    retry_seconds: float = 300.0
    lease: timedelta = timedelta(minutes=10)

    @classmethod
    def of(cls, ds: DigestSettings) -> Policy:
        return cls(
            ds.mail_max_attempts,
            ds.mail_bounce_after,
            ds.mail_retry_seconds,
            timedelta(seconds=ds.mail_lease_seconds),
        )


# ------------------------------------------------------------------------------- state transitions


def _release_papers(conn: Connection, edition_id: int) -> None:
    # An edition that will never arrive must not keep its papers from the next one.
    conn.execute(sent_papers.delete().where(sent_papers.c.edition_id == edition_id))


def _apply(
    conn: Connection,
    *,
    outcome: Outcome,
    owner: str | None,
    now: datetime,
    policy: Policy,
    report: DeliveryReport,
) -> None:
    """Move one `sending` row to its next state; with `owner`, only if that owner still holds it."""
    where = [digest_editions.c.id == outcome.edition_id, digest_editions.c.status == "sending"]
    if owner is not None:
        where.append(digest_editions.c.lease_owner == owner)
    done = {"lease_owner": None, "lease_until": None, "updated_at": now}
    err = outcome.error
    status: Status
    if outcome.release:
        status = "retry"
        values: dict[str, Any] = {"attempts": max(outcome.attempts - 1, 0), "next_attempt_at": now}
        if err is not None:
            values["error"] = str(err)[:2000]
    elif err is None:
        status = "sent"
        values = {"delivery_id": (outcome.delivered or "")[:255], "sent_at": now, "error": None}
    elif err.kind == "permanent" and outcome.attempts >= policy.bounce_after:
        status = "bounced"
        values = {"error": str(err)[:2000]}
    elif err.kind != "permanent" and outcome.attempts >= policy.max_attempts:
        status = "failed"
        values = {"error": str(err)[:2000]}
    else:
        status = "retry"
        wait = backoff(attempts=outcome.attempts, base_seconds=policy.retry_seconds)
        values = {"error": str(err)[:2000], "next_attempt_at": now + wait}
    changed = conn.execute(
        digest_editions.update().where(*where).values(status=status, **done, **values)
    ).rowcount
    if not changed:
        # Our lease was taken over by another sender: its record stands (see module docstring).
        report.lost_leases += 1
        log.warning("digest.lease_lost", extra={"edition": outcome.edition_id})
        return
    if status == "sent":
        report.sent += 1
    elif status == "retry":
        report.retry += 1
    elif status == "failed":
        report.failed += 1
        _release_papers(conn, outcome.edition_id)
        log.warning("digest.failed", extra={"edition": outcome.edition_id, "error": str(err)})
    elif status == "bounced":
        report.bounced += 1
        suppress(
            conn=conn, subscription_id=outcome.subscription_id, reason="bounced", detail=str(err), now=now
        )
        log.warning("digest.bounced", extra={"subscription": outcome.subscription_id, "error": str(err)})


# The one statement that records delivered editions, built once: a sender records each as its reply
# arrives (issue #6), and building and compiling it anew each time was twice the cost of running it.
_MARK_SENT = (
    digest_editions.update()
    .where(
        digest_editions.c.id == sa.bindparam("edition"),
        digest_editions.c.status == "sending",
        digest_editions.c.lease_owner == sa.bindparam("owner"),
    )
    .values(
        status="sent",
        lease_owner=None,
        lease_until=None,
        updated_at=sa.bindparam("at", type_=digest_editions.c.updated_at.type),
        delivery_id=sa.bindparam("delivered"),
        sent_at=sa.bindparam("at", type_=digest_editions.c.sent_at.type),
        error=None,
    )
)


def mark_sent(
    conn: Connection, *, outcomes: Sequence[Outcome], owner: str, now: datetime, report: DeliveryReport
) -> None:
    """Record delivered editions `sent`, in one statement; only rows `owner` still holds change."""
    params = [
        {"edition": o.edition_id, "delivered": (o.delivered or "")[:255], "owner": owner, "at": now}
        for o in outcomes
    ]
    changed = conn.execute(_MARK_SENT, params[0] if len(params) == 1 else params).rowcount
    report.sent += changed
    if changed < len(outcomes):
        # Leases taken over by another sender: their records stand (see module docstring).
        report.lost_leases += len(outcomes) - changed
        log.warning("digest.lease_lost", extra={"editions": len(outcomes) - changed})


def record(
    conn: Connection,
    *,
    outcomes: Sequence[Outcome],
    owner: str,
    now: datetime,
    policy: Policy,
    report: DeliveryReport,
) -> None:
    """Record a sender's outcomes: the delivered ones in one statement, the rest one by one.

    Only rows the sender still owns change, as in `_apply` (issue #5: a statement per delivered
    message was most of the time of recording).
    """
    sent = [o for o in outcomes if o.error is None and not o.release]
    others = [o for o in outcomes if o.error is not None or o.release]
    if len(sent) > 1 and not conn.dialect.supports_sane_multi_rowcount:
        sent, others = [], list(outcomes)  # one statement each, as counting a batch needs the driver
    for outcome in others:
        _apply(conn, outcome=outcome, owner=owner, now=now, policy=policy, report=report)
    if sent:
        mark_sent(conn, outcomes=sent, owner=owner, now=now, report=report)


def _cancel_inactive(conn: Connection, now: datetime, report: DeliveryReport) -> None:
    inactive = sa.select(subscriptions.c.id).where(
        sa.or_(subscriptions.c.status != "confirmed", subscriptions.c.paused.is_(True))
    )
    ids = [
        int(i)
        for i in conn.execute(
            sa.select(digest_editions.c.id).where(
                digest_editions.c.status.in_(("queued", "retry")),
                digest_editions.c.subscription_id.in_(inactive),
            )
        ).scalars()
    ]
    if ids:
        conn.execute(sent_papers.delete().where(sent_papers.c.edition_id.in_(ids)))
        conn.execute(
            digest_editions.update()
            .where(digest_editions.c.id.in_(ids))
            .values(status="cancelled", updated_at=now)
        )
        report.cancelled += len(ids)


def recover(
    *,
    conn: Connection,
    now: datetime,
    mailer: Mailer,
    journal: Journal | None,
    policy: Policy,
    report: DeliveryReport,
) -> None:
    """Settle `sending` rows of dead senders by the rule of the module docstring."""
    rows = conn.execute(
        sa.select(
            digest_editions.c.id,
            digest_editions.c.subscription_id,
            digest_editions.c.message_id,
            digest_editions.c.attempts,
            digest_editions.c.lease_owner,
            digest_editions.c.lease_until,
        ).where(digest_editions.c.status == "sending")
    ).all()
    dead = [r for r in rows if owner_dead(r.lease_owner, r.lease_until, now)]
    if not dead:
        return
    entries = journal.read() if journal is not None else {}
    writers = journal.writers() if journal is not None else None
    for r in dead:
        known = mailer.lookup(r.message_id)
        entry = entries.get(r.message_id)
        base = Outcome(int(r.id), int(r.subscription_id), int(r.attempts))
        if (
            known is None
            and writers is not None
            and r.lease_owner not in writers
            and r.lease_until is not None
            and r.lease_until > now
        ):
            # A dead process on this host that journaled elsewhere (another data directory, issue
            # #6): this journal cannot tell what it handed off, its own can when it restarts. Only
            # once its lease expires does the row fall to whoever asks (rule 5 if nothing is known).
            report.waiting += 1
            continue
        if known is not None:
            rule = "found" if known else "absent"
            outcome = (
                Outcome(
                    base.edition_id, base.subscription_id, base.attempts, delivered=f"recovered:{mailer.name}"
                )
                if known
                else Outcome(base.edition_id, base.subscription_id, base.attempts, release=True)
            )
        elif entry is not None and entry.code is not None:
            rule = f"reply {entry.code}"
            code = entry.code
            outcome = (
                Outcome(base.edition_id, base.subscription_id, base.attempts, delivered="recovered:journal")
                if 200 <= code < 300
                else Outcome(
                    base.edition_id,
                    base.subscription_id,
                    base.attempts,
                    error=SendError(
                        "permanent" if code >= 500 else "temporary",
                        f"reply {code} (from the journal)",
                        code=code,
                    ),
                )
            )
        elif entry is not None and entry.handed_off:
            rule = "handed off"
            outcome = Outcome(
                base.edition_id, base.subscription_id, base.attempts, delivered="recovered:handed-off"
            )
        elif entry is not None and entry.prepared:
            # Killed between `P` and `D`: almost always before the final "." reached the kernel
            # (nothing to accept: send again); in the one system call after it, a duplicate with the
            # same Message-ID. Never a loss (module docstring, rule 4).
            rule = "prepared, no hand-off"
            outcome = Outcome(base.edition_id, base.subscription_id, base.attempts, release=True)
        else:
            rule = "never handed off"
            outcome = Outcome(base.edition_id, base.subscription_id, base.attempts, release=True)
        _apply(conn, outcome=outcome, owner=None, now=now, policy=policy, report=report)
        report.recovered[rule] = report.recovered.get(rule, 0) + 1
        log.info("digest.recovered", extra={"edition": r.id, "rule": rule})


def claim(*, conn: Connection, owner: str, now: datetime, limit: int, lease: timedelta) -> list[Claimed]:
    """Take up to `limit` due editions of confirmed, unpaused subscriptions for this sender."""
    stmt = (
        sa.select(digest_editions, subscriptions)
        .join(subscriptions, subscriptions.c.id == digest_editions.c.subscription_id)
        .where(
            digest_editions.c.status.in_(("queued", "retry")),
            digest_editions.c.next_attempt_at <= now,
            subscriptions.c.status == "confirmed",
            subscriptions.c.paused.is_(False),
        )
        # No ORDER BY: the rows come in the order of ix_digest_editions_status_next, so the LIMIT
        # stops early; sorting every due row on each claim made a 10,000-edition run quadratic.
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update(skip_locked=True, of=digest_editions)
    rows = conn.execute(stmt).mappings().all()
    if not rows:
        return []
    # `id` and `status` exist in both tables: read the edition's from its own columns.
    ids = [int(r[digest_editions.c.id]) for r in rows]
    conn.execute(
        digest_editions.update()
        .where(digest_editions.c.id.in_(ids))
        .values(
            status="sending",
            lease_owner=owner,
            lease_until=now + lease,
            attempts=digest_editions.c.attempts + 1,
            updated_at=now,
        )
    )
    out = []
    for r in rows:
        sub_row = {c.name: r[c] for c in subscriptions.c}
        out.append(
            Claimed(
                id=int(r[digest_editions.c.id]),
                sub=from_row(sub_row),
                edition_date=r[digest_editions.c.edition_date],
                composed=Composed.from_json(r[digest_editions.c.papers]),
                message_id=r[digest_editions.c.message_id],
                attempts=int(r[digest_editions.c.attempts]) + 1,
                created_at=r[digest_editions.c.created_at],
            )
        )
    return out


# -------------------------------------------------------------------------------------------- sender


def _papers_of(engine: Engine, batch: Sequence[Claimed]) -> dict[str, Paper]:
    ids = list({pid for c in batch for pid in c.composed.paper_ids})
    with reading(engine) as conn:
        return {p.id: p for p in repository.get_many(conn=conn, paper_ids=ids)}


def render_claimed(
    *, ctx: MailContext, claimed: Claimed, papers: dict[str, Paper], cache: ViewCache | None = None
) -> EmailMessage:
    """The message of a claimed edition (papers deleted since composing are left out)."""
    trending = [papers[i] for i in claimed.composed.trending if i in papers]
    for_you = [(papers[i], t) for i, t in claimed.composed.for_you if i in papers]
    return render_digest(
        ctx=ctx,
        sub=claimed.sub,
        edition_date=claimed.edition_date,
        created_at=claimed.created_at,
        message_id=claimed.message_id,
        trending=trending,
        for_you=for_you,
        cache=cache,
    )


@dataclass
class Sender:
    """The sending loop: claim a batch, render and send it, record it with the next claim.

    One thread drives `mailers` (one connection each, PAPERTREND_MAIL_CONCURRENCY of them). It hands
    a message over, renders the next while the server stores the previous, then reads the previous
    reply. One thread, not one per connection, because exactly-once needs the journal's `D` line to
    follow the final "." at once (issue #5): a second thread holding the interpreter's lock between
    the two once stretched that instant to milliseconds, and a SIGKILL there lost a message.
    """

    engine: Engine
    mailers: list[Mailer]
    ctx: MailContext
    policy: Policy
    clock: Callable[[], datetime]
    limiter: RateLimiter
    report: DeliveryReport
    batch: int = CLAIM_BATCH
    owner: str = field(default_factory=new_owner)
    timings: dict[str, float] = field(default_factory=lambda: {"render": 0.0, "deliver": 0.0, "record": 0.0})
    views: ViewCache = field(default_factory=dict)
    stopped: bool = False
    _recorder: Connection | None = field(default=None, init=False, repr=False)

    def _step(self, outcomes: list[Outcome], *, claim_more: bool) -> list[Claimed]:
        started = time.perf_counter()
        now = self.clock()
        with transaction(self.engine) as conn:
            record(conn, outcomes=outcomes, owner=self.owner, now=now, policy=self.policy, report=self.report)
            got = (
                claim(conn=conn, owner=self.owner, now=now, limit=self.batch, lease=self.policy.lease)
                if claim_more
                else []
            )
        self.timings["record"] += time.perf_counter() - started
        return got

    def run(self) -> None:
        """Send until nothing is due, or the server is unreachable or refuses the configuration."""
        outcomes: list[Outcome] = []
        try:
            while True:
                batch = self._step(outcomes, claim_more=not self.stopped)
                outcomes = []
                if not batch:
                    return
                started = time.perf_counter()
                papers = _papers_of(self.engine, batch)
                self.timings["render"] += time.perf_counter() - started
                self._send_batch(batch, papers, outcomes)
        finally:
            try:
                if outcomes:
                    self._step(outcomes, claim_more=False)
            finally:
                self._close_recorder()
                for mailer in self.mailers:
                    mailer.close()

    def _settle(self, outcome: Outcome, outcomes: list[Outcome]) -> None:
        """Record a delivered edition at once; keep any other outcome for the next claim's transaction.

        At once (issue #6): until the outbox says `sent`, only this sender's journal knows the server
        took the message, and a sender on another machine settling our editions after we died cannot
        read it. Recorded with the next claim, every message of the batch delivered so far would go
        out again then; recorded now, only those in flight. A failure can wait: what its record leads
        to, another try, is what recovery does with it too.
        """
        if outcome.error is not None or outcome.release:
            outcomes.append(outcome)
            return
        started = time.perf_counter()
        try:
            with self._recording() as conn:
                mark_sent(conn, outcomes=[outcome], owner=self.owner, now=self.clock(), report=self.report)
        except sa.exc.SQLAlchemyError:
            log.warning("digest.record_deferred: recorded with the next claim instead", exc_info=True)
            self._close_recorder(broken=True)
            outcomes.append(outcome)
        finally:
            self.timings["record"] += time.perf_counter() - started

    @contextmanager
    def _recording(self) -> Iterator[Connection]:
        """Where one delivered edition is recorded: its own transaction."""
        if self.engine.dialect.name != "postgresql":
            # SQLite: a write transaction is a few calls within this process.
            with transaction(self.engine) as conn:
                yield conn
            return
        if self._recorder is None:
            # One connection for the run, in autocommit: the one UPDATE commits by itself, one round
            # trip. Not waiting for the disk: the record guards against this process dying, which a
            # commit the server holds survives; a crash of the server itself can lose the last
            # fraction of a second of records, whose rows are then settled by the journal like any
            # dead sender's. Waiting cost a millisecond or more per message.
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("SET synchronous_commit = off")
            self._recorder = conn
        yield self._recorder

    def _close_recorder(self, *, broken: bool = False) -> None:
        conn, self._recorder = self._recorder, None
        if conn is None:
            return
        try:
            if broken:
                conn.invalidate()
            else:
                # The pool's next user of this connection commits as usual.
                conn.exec_driver_sql("RESET synchronous_commit")
        except sa.exc.SQLAlchemyError:
            conn.invalidate()
        finally:
            conn.close()

    def _send_batch(
        self, batch: Sequence[Claimed], papers: dict[str, Paper], outcomes: list[Outcome]
    ) -> None:
        """Send a batch through the mailers, each with at most one reply outstanding; outcomes are
        appended as they are known, so a failure part-way still records what was done."""
        free = list(range(len(self.mailers)))
        waiting: deque[tuple[int, Claimed, Submitted]] = deque()
        try:
            for i, item in enumerate(batch):
                if self.stopped:
                    outcomes.extend(Outcome(c.id, c.sub.id, c.attempts, release=True) for c in batch[i:])
                    break
                message = self._render(item, papers, outcomes)
                if message is None:
                    continue
                if not free:
                    slot, done, pending = waiting.popleft()
                    self._settle(self._finish(slot, done, pending), outcomes)
                    free.append(slot)
                if self.stopped:
                    outcomes.extend(Outcome(c.id, c.sub.id, c.attempts, release=True) for c in batch[i:])
                    break
                slot = free.pop(0)
                submitted = self._submit(slot, item, message, outcomes)
                if submitted is None:
                    free.append(slot)
                else:
                    waiting.append((slot, item, submitted))
        finally:
            while waiting:
                slot, done, pending = waiting.popleft()
                self._settle(self._finish(slot, done, pending), outcomes)

    def _render(
        self, item: Claimed, papers: dict[str, Paper], outcomes: list[Outcome]
    ) -> EmailMessage | None:
        started = time.perf_counter()
        try:
            return render_claimed(ctx=self.ctx, claimed=item, papers=papers, cache=self.views)
        except Exception as exc:  # a rendering bug must not stop everyone's mail
            log.exception("digest.render_failed", extra={"edition": item.id})
            outcomes.append(
                Outcome(item.id, item.sub.id, item.attempts, error=SendError("temporary", f"render: {exc}"))
            )
            return None
        finally:
            self.timings["render"] += time.perf_counter() - started

    def _failed(self, item: Claimed, exc: SendError) -> Outcome:
        if exc.kind == "fatal" or exc.connection:
            self.stopped = True
            self.report.stopped = str(exc)
            # Not this message's fault: the server is down or the configuration wrong. The try
            # does not count against it, and it waits for the next run.
            return Outcome(item.id, item.sub.id, item.attempts, release=True, error=exc)
        return Outcome(item.id, item.sub.id, item.attempts, error=exc)

    def _submit(
        self, slot: int, item: Claimed, message: EmailMessage, outcomes: list[Outcome]
    ) -> Submitted | None:
        self.limiter.wait()
        started = time.perf_counter()
        try:
            return submit(self.mailers[slot], message)
        except SendError as exc:
            outcomes.append(self._failed(item, exc))
            return None
        finally:
            self.timings["deliver"] += time.perf_counter() - started

    def _finish(self, slot: int, item: Claimed, submitted: Submitted) -> Outcome:
        started = time.perf_counter()
        try:
            delivered = finish(self.mailers[slot], submitted)
            return Outcome(item.id, item.sub.id, item.attempts, delivered=delivered)
        except SendError as exc:
            return self._failed(item, exc)
        finally:
            self.timings["deliver"] += time.perf_counter() - started


def deliver(
    *,
    engine: Engine,
    mailer_factory: Callable[[], Mailer],
    ctx: MailContext,
    policy: Policy,
    now: datetime,
    concurrency: int = 1,
    rate: float = 0.0,
    journal: Journal | None = None,
    batch: int = CLAIM_BATCH,
) -> tuple[DeliveryReport, dict[str, float]]:
    """Recover dead senders' rows, then send every due edition over `concurrency` connections."""
    report = DeliveryReport()
    t0 = time.monotonic()

    def clock() -> datetime:
        return now + timedelta(seconds=time.monotonic() - t0)

    probe = mailer_factory()
    try:
        with transaction(engine) as conn:
            _cancel_inactive(conn, now, report)
            recover(conn=conn, now=now, mailer=probe, journal=journal, policy=policy, report=report)
    finally:
        probe.close()
    mailers = [mailer_factory() for _ in range(max(1, concurrency))]
    sender = Sender(engine, mailers, ctx, policy, clock, RateLimiter(rate), report, batch=batch)
    if journal is not None:
        journal.sender(sender.owner)
    sender.run()
    return report, dict(sender.timings)


# ------------------------------------------------------------------------------------------- the run


@dataclass
class RunReport:
    """A whole `digest run`: compose, then deliver."""

    compose: ComposeReport
    delivery: DeliveryReport | None
    purged: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"compose: {self.compose.summary()}"]
        if self.delivery is not None:
            parts.append(f"delivery: {self.delivery.summary()}")
        if self.purged:
            parts.append(f"{self.purged} unconfirmed subscriptions expired")
        return "; ".join(parts)


def mail_context(settings: Settings) -> MailContext:
    """Mail context from the settings."""
    return MailContext(
        base_url=settings.base_url, mail_from=digest_settings(settings).mail_from, secret=settings.secret_key
    )


def journal_for(settings: Settings) -> Journal:
    """The delivery journal in the data directory."""
    return Journal(settings.data_dir / "mail-journal")


def run_digest(
    *,
    engine: Engine,
    settings: Settings,
    ranker: Ranker,
    now: datetime | None = None,
    dry_run: bool = False,
    mailer_factory: Callable[[], Mailer] | None = None,
) -> RunReport:
    """Compose every due edition and deliver everything due: safe to run at any time, any number of times."""
    ds = digest_settings(settings)
    now = now or datetime.now(UTC)
    ctx = mail_context(settings)
    seconds: dict[str, float] = {}
    purged = 0
    if not dry_run:
        with transaction(engine) as conn:
            purged = purge_expired(conn=conn, now=now)
    composer = Composer(
        engine=engine,
        ranker=ranker,
        n_trending=ds.digest_trending,
        n_for_you=ds.digest_for_you,
        trend=TrendParams(gravity=settings.trending_gravity, offset_hours=settings.trending_offset_hours),
    )
    started, cpu = time.perf_counter(), time.process_time()
    composed = compose_due(
        engine=engine, composer=composer, now=now, secret=ctx.secret, domain=ctx.domain, dry_run=dry_run
    )
    seconds["compose"] = time.perf_counter() - started
    # CPU seconds too: on a busy machine they say more about the code than wall time does.
    seconds["compose cpu"] = time.process_time() - cpu
    if dry_run:
        return RunReport(composed, None, 0, seconds)
    journal = journal_for(settings)
    if mailer_factory is None:
        pause = Pause.from_env()

        def factory() -> Mailer:
            return make_mailer(settings.mail_url, journal=journal, timeout=ds.mail_timeout, pause=pause)

        mailer_factory = factory
    cpu = time.process_time()
    try:
        delivery, timings = deliver(
            engine=engine,
            mailer_factory=mailer_factory,
            ctx=ctx,
            policy=Policy.of(ds),
            now=now,
            concurrency=ds.mail_concurrency,
            rate=ds.mail_rate,
            journal=journal,
        )
    finally:
        journal.close()
    seconds.update(timings)
    seconds["deliver cpu"] = time.process_time() - cpu
    journal.prune()
    report = RunReport(composed, delivery, purged, seconds)
    log.info("digest.run: %s", report.summary(), extra={"mail": describe(settings.mail_url)})
    return report


def keyword_ranker(engine: Engine) -> Ranker:
    """A ranker by keyword search alone: no model needed (tests, and a fallback)."""

    def rank(topic: str, since: date, limit: int) -> list[Hit]:
        with reading(engine) as conn:
            return keyword.search(conn=conn, query=topic, limit=limit, filters=Filters(since=since))

    return rank


RankerMode = Literal["hybrid", "semantic", "keyword", "searcher"]


def load_embedder(settings: Settings) -> Embedder | None:
    """The configured embedding model, or None (logged) when it cannot load: mail goes out anyway."""
    try:
        # Imported here: loading a model is slow, and keyword runs never need one.
        from papertrend.search.embedder import get_embedder

        return get_embedder(settings.embedding_model, device=settings.embedding_device)
    except Exception as exc:  # whatever the model's package raises
        log.warning("digest.model_unavailable: ranking topics by words alone", extra={"error": str(exc)})
        return None


def make_ranker(
    settings: Settings, engine: Engine, *, mode: RankerMode = "hybrid", embedder: Embedder | None = None
) -> Ranker:
    """The "For you" ranker of one run: `hybrid` (default) and `semantic` rank the new papers in
    memory (compose.WindowRanker), `keyword` uses keyword search, `searcher` the full hybrid Searcher.

    Pass `embedder` to reuse a loaded model; without a loadable one, ranking falls back to words.
    """
    if mode == "keyword":
        return keyword_ranker(engine)
    model = embedder or load_embedder(settings)
    if model is None:
        return WindowRanker(engine=engine, embedder=None) if mode != "searcher" else keyword_ranker(engine)
    if mode != "searcher":
        return WindowRanker(engine=engine, embedder=model, lexical=mode == "hybrid")
    from papertrend.search.service import Searcher

    searcher = Searcher(
        engine=engine,
        embedder=model,
        index_dir=settings.data_dir / "index",
        ann_threshold=settings.ann_threshold,
    )

    def rank(topic: str, since: date, limit: int) -> list[Hit]:
        return searcher.search(query=topic, mode="hybrid", limit=limit, filters=Filters(since=since))

    return rank


def make_digest_job(*, settings: Settings, engine: Engine) -> Callable[[], str]:
    """The worker's job: one `digest run` per call. The model loads once and is kept; the ranker is
    new each run, as it holds the new papers of that run."""
    models: list[Embedder | None] = []

    def job() -> str:
        if not models:
            models.append(load_embedder(settings))
        ranker = make_ranker(settings, engine, embedder=models[0])
        return run_digest(engine=engine, settings=settings, ranker=ranker).summary()

    return job
