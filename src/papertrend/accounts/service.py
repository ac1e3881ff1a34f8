"""Sign-in by emailed link, and sessions (issue #4, part 2). The caller owns the transaction.

    POST /login (address) ──► login token (hash stored, 15 min) ──► mail with /login/<token>
    GET /login/<token>  ──► a page with a "Sign in" button; changes nothing (mail scanners prefetch)
    POST /login/<token> ──► token consumed (once) ──► user (created on first sign-in) + session

Asking for a link answers the same whether or not the address has an account (no enumeration);
accounts are created only when a link is used, so typing someone's address creates nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection

from papertrend import ratelimit
from papertrend.accounts import repository as repo
from papertrend.accounts import tokens
from papertrend.accounts.repository import StoredToken, User
from papertrend.addresses import normalize_email
from papertrend.security import hash_token, new_token

RATE_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class LoginRequest:
    """What `request_login` decided: a token to mail, or nothing (the address used up its allowance)."""

    email: str
    token: str | None  # the raw token, to mail once; never stored
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class SignIn:
    """A successful sign-in: who, the raw session token for the cookie, and where to go next."""

    user: User
    session_token: str
    session_expires_at: datetime
    next_path: str | None


def allow_ip(*, conn: Connection, ip: str, limit: int, now: datetime) -> bool:
    """Count one sign-in request from `ip`; False past `limit` an hour."""
    key = ratelimit.rate_key("ip", ip, scope="login")
    return ratelimit.allow(conn=conn, key=key, limit=limit, window=RATE_WINDOW, now=now)


def request_login(
    *,
    conn: Connection,
    email: str,
    next_path: str | None,
    now: datetime,
    lifetime: timedelta,
    per_address_limit: int,
) -> LoginRequest:
    """Validate the address (InvalidEmail) and issue a login token, unless the address is rate limited."""
    address, email_key = normalize_email(email)
    # Keyed by the normalised form, so no spelling of one mailbox gets an allowance of its own (#12).
    key = ratelimit.rate_key("addr", email_key, scope="login")
    if not ratelimit.allow(conn=conn, key=key, limit=per_address_limit, window=RATE_WINDOW, now=now):
        return LoginRequest(email=address, token=None)
    issued = tokens.issue(now=now, lifetime=lifetime)
    repo.add_login_token(
        conn=conn,
        token_hash=issued.hash,
        email=address,
        next_path=tokens.safe_next(next_path),
        now=now,
        expires_at=issued.expires_at,
    )
    return LoginRequest(email=address, token=issued.raw, expires_at=issued.expires_at)


def peek_login(
    *, conn: Connection, token: str, now: datetime
) -> tuple[tokens.TokenState, StoredToken] | None:
    """The state of a login link and what it names, changing nothing; None for an unknown token."""
    stored = repo.get_login_token(conn=conn, token_hash=hash_token(token))
    if stored is None:
        return None
    return tokens.state(expires_at=stored.expires_at, used_at=stored.used_at, now=now), stored


def sign_in(*, conn: Connection, token: str, now: datetime, session_lifetime: timedelta) -> SignIn | None:
    """Consume a login token and open a session; None if the token is unknown, used or expired."""
    token_hash = hash_token(token)
    if not repo.consume_login_token(conn=conn, token_hash=token_hash, now=now):
        return None
    stored = repo.get_login_token(conn=conn, token_hash=token_hash)
    assert stored is not None  # consumed just now, in this transaction
    user = repo.user_for_login(conn=conn, email=stored.email, now=now)
    session_token = new_token()
    expires = now + session_lifetime
    repo.add_session(
        conn=conn, token_hash=hash_token(session_token), user_id=user.id, now=now, expires_at=expires
    )
    return SignIn(
        user=user,
        session_token=session_token,
        session_expires_at=expires,
        next_path=tokens.safe_next(stored.next_path),
    )


def session_user(*, conn: Connection, session_token: str, now: datetime) -> User | None:
    """The signed-in user of a session cookie's value, or None."""
    if not session_token or len(session_token) > 200:
        return None
    return repo.session_user(conn=conn, token_hash=hash_token(session_token), now=now)


def sign_out(*, conn: Connection, session_token: str) -> None:
    """End the session of a cookie's value (nothing happens for an unknown one)."""
    repo.delete_session(conn=conn, token_hash=hash_token(session_token))
