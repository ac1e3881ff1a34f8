"""All SQL of users, login tokens and sessions. Functions take the caller's connection and never commit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.accounts.tables import login_tokens, sessions, users
from papertrend.papers.tables import votes
from papertrend.sql import insert_for


@dataclass(frozen=True, slots=True)
class User:
    """A person who has signed in."""

    id: int
    email: str
    created_at: datetime
    last_login_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StoredToken:
    """A login token row, without its hash."""

    email: str
    next_path: str | None
    expires_at: datetime
    used_at: datetime | None


def _user(row: Mapping[Any, Any]) -> User:
    return User(
        id=int(row["id"]),
        email=row["email"],
        created_at=row["created_at"],
        last_login_at=row["last_login_at"],
    )


def add_login_token(
    *,
    conn: Connection,
    token_hash: str,
    email: str,
    next_path: str | None,
    now: datetime,
    expires_at: datetime,
) -> None:
    """Store a new login token (its hash only)."""
    conn.execute(
        login_tokens.insert().values(
            token_hash=token_hash, email=email, next_path=next_path, created_at=now, expires_at=expires_at
        )
    )


def get_login_token(*, conn: Connection, token_hash: str) -> StoredToken | None:
    """The stored token with this hash, used or not, or None."""
    row = conn.execute(
        sa.select(
            login_tokens.c.email, login_tokens.c.next_path, login_tokens.c.expires_at, login_tokens.c.used_at
        ).where(login_tokens.c.token_hash == token_hash)
    ).first()
    return StoredToken(*row) if row else None


def consume_login_token(*, conn: Connection, token_hash: str, now: datetime) -> bool:
    """Mark the token used if it is unused and unexpired; True for exactly one caller, ever.

    One conditional UPDATE: two concurrent POSTs of the same link cannot both see it unused.
    """
    result = conn.execute(
        login_tokens.update()
        .where(
            login_tokens.c.token_hash == token_hash,
            login_tokens.c.used_at.is_(None),
            login_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    return result.rowcount == 1


def user_for_login(*, conn: Connection, email: str, now: datetime) -> User:
    """The user of an address, created on first sign-in; `last_login_at` set to `now`."""
    key = email.lower()
    conn.execute(
        insert_for(conn, users)
        .values(email=email, email_key=key, created_at=now, last_login_at=now)
        .on_conflict_do_update(index_elements=[users.c.email_key], set_={"last_login_at": now})
    )
    row = conn.execute(sa.select(users).where(users.c.email_key == key)).mappings().one()
    return _user(row)


def add_session(
    *, conn: Connection, token_hash: str, user_id: int, now: datetime, expires_at: datetime
) -> None:
    """Store a new session (its hash only)."""
    conn.execute(
        sessions.insert().values(
            token_hash=token_hash, user_id=user_id, created_at=now, expires_at=expires_at
        )
    )


def session_user(*, conn: Connection, token_hash: str, now: datetime) -> User | None:
    """The user of an unexpired session, or None."""
    row = (
        conn.execute(
            sa.select(users)
            .join(sessions, sessions.c.user_id == users.c.id)
            .where(sessions.c.token_hash == token_hash, sessions.c.expires_at > now)
        )
        .mappings()
        .first()
    )
    return _user(row) if row else None


def delete_session(*, conn: Connection, token_hash: str) -> None:
    """End one session."""
    conn.execute(sessions.delete().where(sessions.c.token_hash == token_hash))


def list_users(*, conn: Connection) -> list[tuple[User, int, int]]:
    """Every user, oldest first, with their live session count and vote count."""
    live = (
        sa.select(sa.func.count())
        .select_from(sessions)
        .where(sessions.c.user_id == users.c.id)
        .scalar_subquery()
    )
    cast = (
        sa.select(sa.func.count()).select_from(votes).where(votes.c.user_id == users.c.id).scalar_subquery()
    )
    rows = conn.execute(
        sa.select(users, live.label("n_sessions"), cast.label("n_votes")).order_by(users.c.id)
    )
    return [(_user(r), int(r["n_sessions"]), int(r["n_votes"])) for r in rows.mappings()]


def get_user_by_email(*, conn: Connection, email: str) -> User | None:
    """The user of an address (compared case-insensitively), or None."""
    row = conn.execute(sa.select(users).where(users.c.email_key == email.strip().lower())).mappings().first()
    return _user(row) if row else None


def delete_user(*, conn: Connection, user_id: int) -> None:
    """Delete a user with their sessions and votes (explicitly: SQLite may run without foreign keys)."""
    conn.execute(votes.delete().where(votes.c.user_id == user_id))
    conn.execute(sessions.delete().where(sessions.c.user_id == user_id))
    conn.execute(users.delete().where(users.c.id == user_id))


def purge_expired(*, conn: Connection, now: datetime) -> int:
    """Delete expired login tokens and sessions; how many rows went."""
    a = conn.execute(login_tokens.delete().where(login_tokens.c.expires_at < now)).rowcount
    b = conn.execute(sessions.delete().where(sessions.c.expires_at < now)).rowcount
    return int(a or 0) + int(b or 0)
