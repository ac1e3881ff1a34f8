"""Pure functions of sign-in (issue #4, part 2): login tokens, their lifetime, and safe `next=` paths.

Nothing here touches the database or the clock; callers pass `now`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from urllib.parse import urlsplit

from papertrend.security import hash_token, new_token

TokenState = Literal["usable", "used", "expired"]
MAX_NEXT_CHARS = 2000
# Browsers drop tabs and newlines inside URLs ("/\t/evil.example" becomes "//evil.example"), and a
# backslash reads as a slash in some: none of them belongs in a path we redirect to.
_UNSAFE = re.compile(r"[\x00-\x20\x7f\\]")


@dataclass(frozen=True, slots=True)
class IssuedToken:
    """A new token: `raw` goes into the mail once; only `hash` and `expires_at` are stored."""

    raw: str
    hash: str
    expires_at: datetime


def issue(*, now: datetime, lifetime: timedelta) -> IssuedToken:
    """A fresh random token valid from `now` for `lifetime`."""
    raw = new_token()
    return IssuedToken(raw=raw, hash=hash_token(raw), expires_at=now + lifetime)


def state(*, expires_at: datetime, used_at: datetime | None, now: datetime) -> TokenState:
    """Whether a stored token may still be used; a used one says so even once it has expired."""
    if used_at is not None:
        return "used"
    if now >= expires_at:
        return "expired"
    return "usable"


def safe_next(value: str | None) -> str | None:
    """`value` if it is a path on this site, else None: `next=` must never lead to another site."""
    if not value or len(value) > MAX_NEXT_CHARS or not value.startswith("/") or value.startswith("//"):
        return None
    if _UNSAFE.search(value):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme or parts.netloc:
        return None
    return value
