"""Fixed-window rate limits kept in the database, shared by subscribing and sign-in (issues #4, #5).

Counters live in `rate_limits` so every web process shares them and a restart does not reset them.
Functions take the caller's connection and never commit (DESIGN §6.1).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.sql import UTCDateTime, insert_for, metadata

# Fixed-window counters for rate limits (subscribe and sign-in forms; papertrend.ratelimit), in the
# database so every web process shares them and a restart does not reset them. Keys are
# "[scope:]ip:…" or "[scope:]addr:<sha256>".
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("window_start", UTCDateTime(), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)

# Longer than any window the callers use (both forms count per hour): a counter whose window started
# this long ago limits nothing, and the next event for its key starts a new window anyway.
STALE_AFTER = timedelta(days=1)


def rate_key(kind: Literal["ip", "addr"], value: str, *, scope: str = "") -> str:
    """A counter key; addresses are hashed so the table never holds one in clear.

    `scope` keeps limits of different forms apart ("login"); the subscribe form's keys have none.
    """
    prefix = f"{scope}:" if scope else ""
    if kind == "addr":
        return f"{prefix}addr:" + hashlib.sha256(value.strip().lower().encode()).hexdigest()[:40]
    return f"{prefix}ip:{value[:100]}"


def allow(*, conn: Connection, key: str, limit: int, window: timedelta, now: datetime) -> bool:
    """Count one event for `key`; False when `limit` events already happened in its current window.

    One statement (#12): an upsert that starts a new window or adds one, and returns the count. A
    read-then-update let two requests both read `limit - 1` and both pass; the database now
    serialises the increments on the row, so no number of concurrent requests can overshoot.
    Refused events are counted too, which changes nothing: the window's count is already past
    `limit`, and the next window starts from 1.
    """
    expired = rate_limits.c.window_start <= now - window
    stmt = insert_for(conn, rate_limits).values(key=key, window_start=now, count=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[rate_limits.c.key],
        set_={
            "window_start": sa.case((expired, now), else_=rate_limits.c.window_start),
            "count": sa.case((expired, 1), else_=rate_limits.c.count + 1),
        },
    )
    count = conn.execute(stmt.returning(rate_limits.c.count)).scalar_one()
    return int(count) <= limit


def purge_stale(*, conn: Connection, now: datetime, older_than: timedelta = STALE_AFTER) -> int:
    """Delete counters whose window started more than `older_than` before `now`; how many went."""
    result = conn.execute(rate_limits.delete().where(rate_limits.c.window_start < now - older_than))
    return int(result.rowcount or 0)
