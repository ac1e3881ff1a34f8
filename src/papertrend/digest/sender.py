"""The sending loop: claim a batch, render and send it, record each outcome (issues #5, #6).

See outbox.py for the states and the recovery rule this loop keeps to.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading, transaction
from papertrend.digest import repository
from papertrend.digest.outbox import (
    CLAIM_BATCH,
    DeliveryReport,
    Outcome,
    Policy,
    cancel_inactive,
    mark_sent,
    record,
    recover,
)
from papertrend.digest.records import Claimed
from papertrend.digest.render import RenderCache, render_digest
from papertrend.leases import new_owner
from papertrend.mail.journal import Journal
from papertrend.mail.message import AddressError, MailContext
from papertrend.mail.pacing import RateLimiter
from papertrend.mail.protocol import Mailer, SendError, Submitted, finish, submit
from papertrend.papers import repository as paper_repository
from papertrend.papers.models import Paper

log = logging.getLogger("papertrend.digest")


def _papers_of(engine: Engine, batch: Sequence[Claimed], kept: dict[str, Paper]) -> dict[str, Paper]:
    """The batch's papers, current: a copy `kept` from an earlier batch is reused while its
    `changed_at` holds (batches share most of their papers; reading each whole again was ~0.15 ms of
    a digest's ~5 at 10,000 subscribers, #13). Papers deleted since composing are left out."""
    ids = list({pid for c in batch for pid in c.composed.paper_ids})
    with reading(engine) as conn:
        changed = paper_repository.changed_at_of(conn=conn, paper_ids=ids)
        stale = [i for i in changed if i not in kept or kept[i].changed_at != changed[i]]
        kept.update((p.id, p) for p in paper_repository.get_many(conn=conn, paper_ids=stale))
    return {i: kept[i] for i in changed if i in kept}


def render_claimed(
    *, ctx: MailContext, claimed: Claimed, papers: dict[str, Paper], cache: RenderCache | None = None
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
    rendered: RenderCache = field(default_factory=RenderCache)  # views and blocks, once per run
    papers: dict[str, Paper] = field(default_factory=dict)  # kept between batches (`_papers_of`)
    stopped: bool = False
    _recorder: Connection | None = field(default=None, init=False, repr=False)

    def _step(self, outcomes: list[Outcome], *, claim_more: bool) -> list[Claimed]:
        started = time.perf_counter()
        now = self.clock()
        with transaction(self.engine) as conn:
            record(conn, outcomes=outcomes, owner=self.owner, now=now, policy=self.policy, report=self.report)
            got = (
                repository.claim(
                    conn=conn, owner=self.owner, now=now, limit=self.batch, lease=self.policy.lease
                )
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
                papers = _papers_of(self.engine, batch, self.papers)
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
            return render_claimed(ctx=self.ctx, claimed=item, papers=papers, cache=self.rendered)
        except AddressError as exc:  # an address stored before today's rules (#12): never sendable
            log.warning("digest.invalid_address", extra={"edition": item.id, "error": str(exc)})
            outcomes.append(
                Outcome(item.id, item.sub.id, item.attempts, error=SendError("invalid", str(exc)))
            )
            return None
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
            cancel_inactive(conn, now, report)
            recover(conn=conn, now=now, mailer=probe, journal=journal, policy=policy, report=report)
    finally:
        probe.close()
    mailers = [mailer_factory() for _ in range(max(1, concurrency))]
    sender = Sender(engine, mailers, ctx, policy, clock, RateLimiter(rate), report, batch=batch)
    if journal is not None:
        journal.sender(sender.owner)
    sender.run()
    return report, dict(sender.timings)
