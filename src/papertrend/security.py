"""Random tokens and their hashes, shared by every emailed link and cookie (issues #4, #5).

A token is mailed or set once and stored only as its SHA-256 (DESIGN §4, §6.10): a copy of the
database lets nobody sign in, confirm or hijack a session. HMAC helpers sign values that need no
table (CSRF tokens, subscription links).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

TOKEN_BYTES = 32


def new_token() -> str:
    """A fresh random URL-safe token (256 bits)."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def sign(*, secret: str, message: str, chars: int = 43) -> str:
    """HMAC-SHA256 of `message` under `secret`, URL-safe base64 cut to `chars` characters."""
    mac = hmac.new(secret.encode(), message.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")[:chars]


def same(a: str, b: str) -> bool:
    """Constant-time comparison of two strings."""
    return hmac.compare_digest(a.encode(), b.encode())
