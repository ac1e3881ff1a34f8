"""The opaque cursor of `/api/papers` (#16): a keyset on (publication time, pk), never an OFFSET.

A page ends at a paper; the next page starts after that paper's key, so papers stored meanwhile never
shift or repeat a page, and page 1,000 costs what page 1 does. The token is the key in base64url; a
token this server did not make (another spelling, bytes that are no key) is a 400.
"""

from __future__ import annotations

import base64
from datetime import datetime

from papertrend.errors import BadRequest
from papertrend.papers.repository import PublishedKey

# pk is an INTEGER column (32 bits on PostgreSQL): a larger number can be no stored paper's handle.
_MAX_PK = 2**31 - 1


def encode(key: PublishedKey) -> str:
    """The cursor that continues after `key`."""
    stamp = key.published_at.isoformat() if key.published_at else ""
    return base64.urlsafe_b64encode(f"{stamp}|{key.pk}".encode()).decode().rstrip("=")


def decode(token: str) -> PublishedKey:
    """The key a cursor continues after; BadRequest for anything `encode` did not make."""
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode("ascii")
        stamp, pk = text.split("|")
        key = PublishedKey(datetime.fromisoformat(stamp) if stamp else None, int(pk))
    except ValueError:  # also binascii.Error and UnicodeDecodeError
        key = None
    if key is None or not 0 < key.pk <= _MAX_PK or encode(key) != token or _naive(key):
        raise BadRequest(
            'The cursor is not one this server gave out: pass the `cursor` of a `Link: …; rel="next"`'
            " header unchanged, or leave it out for the newest papers."
        )
    return key


def _naive(key: PublishedKey) -> bool:
    return key.published_at is not None and key.published_at.utcoffset() is None
