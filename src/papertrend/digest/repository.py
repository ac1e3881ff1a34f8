"""The digest's SQL: subscriptions, editions due and stored, sent papers, claims and the outbox's state
changes (issue #11).

Functions here read and write; they never commit: the caller owns the transaction (docs: house style).
The decisions they serve live in schedule.py, compose.py and outbox.py.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.digest.records import Claimed, Composed, PaperText, Subscription, from_row
from papertrend.digest.schedule import MAX_WINDOW_DAYS, Due, edition_for, window_since
from papertrend.digest.tables import (
    digest_editions,
    insert_for,
    rate_limits,
    sent_papers,
    subscription_tokens,
    subscriptions,
    suppressions,
)
from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers
from papertrend.search.tables import embeddings

log = logging.getLogger("papertrend.digest")


def as_day(value: object) -> date:
    """A date read back from either database (SQLite may give the ISO text)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# ------------------------------------------------------------------------------------------- compose


def due_editions(*, conn: Connection, now: datetime, only: int | None = None) -> list[Due]:
    """Confirmed, unpaused subscriptions whose latest edition date has passed and has no edition yet."""
    stmt = sa.select(subscriptions).where(
        subscriptions.c.status == "confirmed", subscriptions.c.paused.is_(False)
    )
    if only is not None:
        stmt = stmt.where(subscriptions.c.id == only)
    candidates: list[tuple[Subscription, date]] = []
    for row in conn.execute(stmt).mappings():
        sub = from_row(row)
        try:
            day = edition_for(prefs=sub.prefs, confirmed_at=sub.confirmed_at, now=now)
        except Exception:  # a time zone that vanished from tzdata must not stop everyone's mail
            log.exception("digest.bad_schedule", extra={"subscription": sub.id})
            continue
        if day is not None:
            candidates.append((sub, day))
    if not candidates:
        return []
    oldest = min(d for _, d in candidates) - timedelta(days=MAX_WINDOW_DAYS + 7)
    rows = conn.execute(
        sa.select(
            digest_editions.c.subscription_id, digest_editions.c.edition_date, digest_editions.c.status
        ).where(digest_editions.c.edition_date >= oldest)
    )
    existing: set[tuple[int, date]] = set()
    previous: dict[int, date] = {}
    for sid, day, status in rows:
        existing.add((int(sid), day))
        # Empty and cancelled editions sent nothing: the next one still covers their days.
        if status not in ("empty", "cancelled") and day > previous.get(int(sid), date.min):
            previous[int(sid)] = day
    out = []
    for sub, day in candidates:
        if (sub.id, day) in existing:
            continue
        prev = previous.get(sub.id)
        prev = prev if prev is not None and prev < day else None
        out.append(Due(sub, day, window_since(edition_date=day, cadence=sub.prefs.cadence, previous=prev)))
    return out


def previous_edition(*, conn: Connection, subscription_id: int, before: date) -> date | None:
    """The date of a subscription's latest edition before `before` that sent something, or None."""
    return conn.execute(
        sa.select(sa.func.max(digest_editions.c.edition_date)).where(
            digest_editions.c.subscription_id == subscription_id,
            digest_editions.c.status.not_in(("empty", "cancelled")),
            digest_editions.c.edition_date < before,
        )
    ).scalar()


def stored_editions(*, conn: Connection, due: Sequence[Due]) -> set[tuple[int, date]]:
    """Which of `due` have an edition stored by now, as (subscription id, edition date)."""
    if not due:
        return set()
    rows = conn.execute(
        sa.select(digest_editions.c.subscription_id, digest_editions.c.edition_date).where(
            digest_editions.c.subscription_id.in_([d.sub.id for d in due]),
            digest_editions.c.edition_date >= min(d.edition_date for d in due),
        )
    )
    wanted = {(d.sub.id, d.edition_date) for d in due}
    return {(int(sid), as_day(day)) for sid, day in rows} & wanted


def sent_ids(*, conn: Connection, subscription_ids: Sequence[int]) -> dict[int, set[str]]:
    """Every paper already put in an edition of each subscription."""
    out: dict[int, set[str]] = {i: set() for i in subscription_ids}
    for start in range(0, len(subscription_ids), 900):
        chunk = list(subscription_ids[start : start + 900])
        stmt = sa.select(sent_papers.c.subscription_id, sent_papers.c.paper_id).where(
            sent_papers.c.subscription_id.in_(chunk)
        )
        for sid, pid in conn.execute(stmt):
            out[int(sid)].add(pid)
    return out


def store_editions(
    *,
    conn: Connection,
    items: Sequence[tuple[Due, Composed, str]],
    now: datetime,
) -> dict[int, int]:
    """Insert editions (due, papers, Message-ID) and claim their papers as sent, in two statements.

    Returns {subscription id: edition id} of those inserted; an edition another run stored first
    is left out, and its papers are not claimed. Set-based (issue #5: two statements per edition
    were a third of composing).
    """
    if not items:
        return {}
    stmt = (
        insert_for(conn, digest_editions)
        .on_conflict_do_nothing()
        .returning(digest_editions.c.id, digest_editions.c.subscription_id, digest_editions.c.edition_date)
    )
    rows = [
        {
            "subscription_id": due.sub.id,
            "edition_date": due.edition_date,
            "since": due.since,
            "status": "empty" if composed.empty else "queued",
            "papers": composed.to_json(),
            "message_id": message_id,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for due, composed, message_id in items
    ]
    inserted = {(int(sid), day): int(eid) for eid, sid, day in conn.execute(stmt, rows)}
    claims = [
        {
            "subscription_id": due.sub.id,
            "paper_id": pid,
            "edition_id": inserted[(due.sub.id, due.edition_date)],
        }
        for due, composed, _ in items
        if (due.sub.id, due.edition_date) in inserted
        for pid in composed.paper_ids
    ]
    if claims:
        conn.execute(insert_for(conn, sent_papers).on_conflict_do_nothing(), claims)
    return {sid: eid for (sid, _), eid in inserted.items()}


def paper_texts(*, conn: Connection, paper_ids: Sequence[str]) -> list[PaperText]:
    """Filter texts (title and abstract, lower-cased) and categories of these papers."""
    out = []
    for start in range(0, len(paper_ids), 900):
        stmt = sa.select(papers.c.id, papers.c.title, papers.c.abstract, papers.c.categories).where(
            papers.c.id.in_(paper_ids[start : start + 900])
        )
        for pid, title, abstract, cats in conn.execute(stmt):
            out.append(PaperText(pid, f"{title}\n{abstract or ''}".lower(), tuple(cats or ())))
    return out


def window_papers(
    *, conn: Connection, since: date, before: date | None, model: str | None
) -> tuple[list[Any], list[tuple[int, bytes]]]:
    """Papers listed in [since, before): (pk, id, title, abstract, listing day) rows, and the
    (paper pk, vector) pairs of `model` among them (none without a model)."""
    day = listing_day_expr()
    where = [day >= since]
    if before is not None:
        where.append(day < before)
    rows = list(
        conn.execute(
            sa.select(papers.c.pk, papers.c.id, papers.c.title, papers.c.abstract, day).where(*where)
        ).all()
    )
    vectors: list[tuple[int, bytes]] = []
    if model is not None and rows:
        stmt = (
            sa.select(embeddings.c.paper_pk, embeddings.c.vector)
            .join(papers, papers.c.pk == embeddings.c.paper_pk)
            .where(embeddings.c.model == model, *where)
        )
        vectors = [(int(pk), blob) for pk, blob in conn.execute(stmt)]
    return rows, vectors


# -------------------------------------------------------------------------------------------- outbox


def release_papers(*, conn: Connection, edition_ids: Sequence[int]) -> None:
    """Free the papers of editions that will never arrive, so the next edition may hold them."""
    conn.execute(sent_papers.delete().where(sent_papers.c.edition_id.in_(list(edition_ids))))


def set_status(
    *,
    conn: Connection,
    edition_id: int,
    owner: str | None,
    status: str,
    values: dict[str, Any],
    now: datetime,
) -> bool:
    """Move a `sending` edition to `status` (lease dropped); with `owner`, only if it still holds it.
    False when the row was not changed (another sender took it over)."""
    where = [digest_editions.c.id == edition_id, digest_editions.c.status == "sending"]
    if owner is not None:
        where.append(digest_editions.c.lease_owner == owner)
    stmt = digest_editions.update().where(*where)
    done = {"lease_owner": None, "lease_until": None, "updated_at": now}
    return bool(conn.execute(stmt.values(status=status, **done, **values)).rowcount)


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


def mark_sent(*, conn: Connection, delivered: Sequence[tuple[int, str]], owner: str, now: datetime) -> int:
    """Record (edition id, delivery id) pairs `sent`, in one statement; only rows `owner` still holds
    change. The number changed."""
    params = [{"edition": eid, "delivered": did[:255], "owner": owner, "at": now} for eid, did in delivered]
    return int(conn.execute(_MARK_SENT, params[0] if len(params) == 1 else params).rowcount)


def cancel_inactive(*, conn: Connection, now: datetime) -> int:
    """Cancel queued and retried editions of unconfirmed or paused subscriptions; how many."""
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
        release_papers(conn=conn, edition_ids=ids)
        conn.execute(
            digest_editions.update()
            .where(digest_editions.c.id.in_(ids))
            .values(status="cancelled", updated_at=now)
        )
    return len(ids)


def sending(*, conn: Connection) -> list[Any]:
    """Every `sending` edition: id, subscription_id, message_id, attempts, lease_owner, lease_until."""
    return list(
        conn.execute(
            sa.select(
                digest_editions.c.id,
                digest_editions.c.subscription_id,
                digest_editions.c.message_id,
                digest_editions.c.attempts,
                digest_editions.c.lease_owner,
                digest_editions.c.lease_until,
            ).where(digest_editions.c.status == "sending")
        ).all()
    )


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


# ------------------------------------------------------------------------------------- subscriptions


def subscription(*, conn: Connection, subscription_id: int) -> Any:
    """The `subscriptions` row of an id (a mapping), or None."""
    stmt = sa.select(subscriptions).where(subscriptions.c.id == subscription_id)
    return conn.execute(stmt).mappings().first()


def subscription_by_key(*, conn: Connection, email_key: str) -> Any:
    """The `subscriptions` row of an address key (a mapping), or None."""
    stmt = sa.select(subscriptions).where(subscriptions.c.email_key == email_key)
    return conn.execute(stmt).mappings().first()


def is_suppressed(*, conn: Connection, email_key: str) -> bool:
    """Whether the address key is in `suppressions`."""
    stmt = sa.select(suppressions.c.email_key).where(suppressions.c.email_key == email_key)
    return conn.execute(stmt).first() is not None


def add_subscription(*, conn: Connection, values: dict[str, Any]) -> int:
    """Insert a subscription; its id."""
    return int(
        conn.execute(subscriptions.insert().values(**values).returning(subscriptions.c.id)).scalar_one()
    )


def update_subscription(
    *, conn: Connection, subscription_id: int, values: dict[str, Any], if_status: Sequence[str] | None = None
) -> None:
    """Change a subscription's columns; with `if_status`, only while it is in one of those states."""
    where = [subscriptions.c.id == subscription_id]
    if if_status is not None:
        where.append(subscriptions.c.status.in_(list(if_status)))
    conn.execute(subscriptions.update().where(*where).values(**values))


def add_confirm_token(
    *, conn: Connection, token_hash: str, subscription_id: int, now: datetime, expires_at: datetime
) -> None:
    """Store a confirmation token's hash."""
    conn.execute(
        subscription_tokens.insert().values(
            token_hash=token_hash,
            subscription_id=subscription_id,
            purpose="confirm",
            created_at=now,
            expires_at=expires_at,
        )
    )


def confirming(*, conn: Connection, token_hash: str, now: datetime) -> Any:
    """The `subscriptions` row an unexpired confirmation token names (a mapping), or None."""
    stmt = (
        sa.select(subscriptions)
        .join(subscription_tokens, subscription_tokens.c.subscription_id == subscriptions.c.id)
        .where(
            subscription_tokens.c.token_hash == token_hash,
            subscription_tokens.c.purpose == "confirm",
            subscription_tokens.c.expires_at > now,
        )
    )
    return conn.execute(stmt).mappings().first()


def use_confirm_token(*, conn: Connection, token_hash: str, now: datetime) -> None:
    """Mark a confirmation token used (once)."""
    conn.execute(
        subscription_tokens.update()
        .where(subscription_tokens.c.token_hash == token_hash, subscription_tokens.c.used_at.is_(None))
        .values(used_at=now)
    )


def delete_tokens(*, conn: Connection, subscription_id: int) -> None:
    """Forget every confirmation token of a subscription."""
    conn.execute(subscription_tokens.delete().where(subscription_tokens.c.subscription_id == subscription_id))


def cancel_unsent(*, conn: Connection, subscription_id: int, now: datetime) -> None:
    """Cancel a subscription's editions composed but not yet handed to the mailer, and release their
    papers; one already `sending` cannot be called back."""
    cancelled = [
        int(i)
        for i in conn.execute(
            sa.select(digest_editions.c.id).where(
                digest_editions.c.subscription_id == subscription_id,
                digest_editions.c.status.in_(("queued", "retry")),
            )
        ).scalars()
    ]
    if not cancelled:
        return
    release_papers(conn=conn, edition_ids=cancelled)
    conn.execute(
        digest_editions.update()
        .where(digest_editions.c.id.in_(cancelled))
        .values(status="cancelled", updated_at=now, lease_owner=None, lease_until=None)
    )


def add_suppression(*, conn: Connection, email_key: str, reason: str, detail: str, now: datetime) -> None:
    """Never mail this address key again (kept if already there)."""
    conn.execute(
        insert_for(conn, suppressions)
        .values(email_key=email_key, reason=reason, detail=detail[:1000], created_at=now)
        .on_conflict_do_nothing()
    )


def purge_expired(*, conn: Connection, now: datetime) -> int:
    """Delete pending subscriptions past `pending_until`, expired tokens, counters older than a day;
    how many subscriptions went."""
    gone = conn.execute(
        subscriptions.delete().where(subscriptions.c.status == "pending", subscriptions.c.pending_until < now)
    ).rowcount
    conn.execute(subscription_tokens.delete().where(subscription_tokens.c.expires_at < now))
    conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now - timedelta(days=1)))
    return int(gone or 0)
