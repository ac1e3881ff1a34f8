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
(papertrend/mail/journal.py: `P` before the final ".", `D` once the "." is in the kernel, `R` the reply),
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
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy.engine import Connection

from papertrend.digest import DigestSettings, repository
from papertrend.digest.subscriptions import suppress
from papertrend.leases import owner_gone
from papertrend.mail.journal import Journal
from papertrend.mail.protocol import Mailer, SendError

log = logging.getLogger("papertrend.digest")
_DEFAULTS = DigestSettings()

Status = Literal["empty", "queued", "sending", "sent", "retry", "failed", "bounced", "cancelled"]
MAX_BACKOFF = timedelta(hours=6)
# Claimed (and recorded) per transaction: each claim drains the sender's pipeline and commits.
CLAIM_BATCH = 100


def backoff(*, attempts: int, base_seconds: float) -> timedelta:
    """Wait before the next try: base × 2^(attempts−1), at most six hours."""
    return min(timedelta(seconds=base_seconds * 2 ** max(attempts - 1, 0)), MAX_BACKOFF)


# ------------------------------------------------------------------------------------------ records


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
    """Retry and bounce rules, from the settings (defaults: `Settings`'s)."""

    max_attempts: int = _DEFAULTS.mail_max_attempts
    bounce_after: int = _DEFAULTS.mail_bounce_after
    retry_seconds: float = _DEFAULTS.mail_retry_seconds
    lease: timedelta = timedelta(seconds=_DEFAULTS.mail_lease_seconds)

    @classmethod
    def of(cls, ds: DigestSettings) -> Policy:
        return cls(
            ds.mail_max_attempts,
            ds.mail_bounce_after,
            ds.mail_retry_seconds,
            timedelta(seconds=ds.mail_lease_seconds),
        )


# ------------------------------------------------------------------------------- state transitions


def apply(
    conn: Connection,
    *,
    outcome: Outcome,
    owner: str | None,
    now: datetime,
    policy: Policy,
    report: DeliveryReport,
) -> None:
    """Move one `sending` row to its next state; with `owner`, only if that owner still holds it."""
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
    elif err.kind == "invalid":
        # The address can never be written (#12): no retry, and the address is not mailed again.
        status = "failed"
        values = {"error": str(err)[:2000]}
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
    changed = repository.set_status(
        conn=conn, edition_id=outcome.edition_id, owner=owner, status=status, values=values, now=now
    )
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
        repository.release_papers(conn=conn, edition_ids=[outcome.edition_id])
        log.warning("digest.failed", extra={"edition": outcome.edition_id, "error": str(err)})
        if err is not None and err.kind == "invalid":
            suppress(
                conn=conn,
                subscription_id=outcome.subscription_id,
                reason="invalid_address",
                detail=str(err),
                now=now,
            )
    elif status == "bounced":
        report.bounced += 1
        suppress(
            conn=conn, subscription_id=outcome.subscription_id, reason="bounced", detail=str(err), now=now
        )
        log.warning("digest.bounced", extra={"subscription": outcome.subscription_id, "error": str(err)})


def mark_sent(
    conn: Connection, *, outcomes: Sequence[Outcome], owner: str, now: datetime, report: DeliveryReport
) -> None:
    """Record delivered editions `sent`, in one statement; only rows `owner` still holds change."""
    delivered = [(o.edition_id, o.delivered or "") for o in outcomes]
    changed = repository.mark_sent(conn=conn, delivered=delivered, owner=owner, now=now)
    report.sent += changed
    if changed < len(outcomes):
        # Leases taken over by another sender: their records stand (see module docstring).
        report.lost_leases += len(outcomes) - changed
        log.warning("digest.lease_lost", extra={"editions": len(outcomes) - changed})


def cancel_inactive(conn: Connection, now: datetime, report: DeliveryReport) -> None:
    """Cancel the unsent editions of subscriptions no longer confirmed, or paused."""
    report.cancelled += repository.cancel_inactive(conn=conn, now=now)


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
        apply(conn, outcome=outcome, owner=owner, now=now, policy=policy, report=report)
    if sent:
        mark_sent(conn, outcomes=sent, owner=owner, now=now, report=report)


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
    rows = repository.sending(conn=conn)
    dead = [r for r in rows if owner_gone(r.lease_owner, r.lease_until, now)]
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
        apply(conn, outcome=outcome, owner=None, now=now, policy=policy, report=report)
        report.recovered[rule] = report.recovered.get(rule, 0) + 1
        log.info("digest.recovered", extra={"edition": r.id, "rule": rule})
