"""Tables of accounts (issue #4, part 2), on the single `metadata` of papertrend.schema.

Importing this module registers them; migration 0006 creates them. Login tokens and session tokens
are stored only as SHA-256 hashes (DESIGN §4, §6.10): whoever reads the database cannot sign in.
"""

from __future__ import annotations

import sqlalchemy as sa

from papertrend.sql import UTCDateTime, metadata

# One row per person who has signed in at least once. `email_key` (lower-cased) is what sign-in
# compares, so "Ada@Example.org" and "ada@example.org" are one account.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("last_login_at", UTCDateTime(), nullable=True),
)

# Magic-link tokens: single use (`used_at`), short-lived (`expires_at`). They name an address, not a
# user, so asking for a link creates no account; the first sign-in does.
login_tokens = sa.Table(
    "login_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("next_path", sa.String(2000), nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)
sa.Index("ix_login_tokens_expires_at", login_tokens.c.expires_at)

# Server-side sessions, so signing out (or deleting a user) ends them at once.
sessions = sa.Table(
    "sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_sessions_user_id", sessions.c.user_id)
