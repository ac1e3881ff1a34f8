"""Tables of the daily email (issue #5), on the single `metadata` of papertrend.schema.

Importing this module registers them; `papertrend.digest` modules import it, and migration 0004
creates them. Addresses are stored once, in `subscriptions`; tokens only as SHA-256 hashes.
"""

from __future__ import annotations

import sqlalchemy as sa

# `rate_limits` (papertrend.ratelimit) and `insert_for` (papertrend.sql) are shared with sign-in
# (issue #4); they stay importable from here for the digest's modules.
from papertrend.ratelimit import rate_limits as rate_limits
from papertrend.sql import UTCDateTime, metadata
from papertrend.sql import insert_for as insert_for

# One row per address. `email_key` (the address lower-cased) is what uniqueness, rate limits and
# suppressions compare, so "Ada@Example.org" and "ada@example.org" are one subscriber.
subscriptions = sa.Table(
    "subscriptions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("email", sa.String(320), nullable=False),
    sa.Column("email_key", sa.String(320), nullable=False, unique=True),
    # pending → confirmed → unsubscribed | bounced (subscriptions.py)
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cadence", sa.String(8), nullable=False, server_default="daily"),
    sa.Column("send_hour", sa.Integer, nullable=False, server_default="8"),
    sa.Column("send_weekday", sa.Integer, nullable=False, server_default="0"),  # weekly: 0 = Monday
    sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
    sa.Column("topics", sa.JSON, nullable=False),
    sa.Column("include_keywords", sa.JSON, nullable=False),
    sa.Column("exclude_keywords", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("paused", sa.Boolean, nullable=False, server_default=sa.false()),
    # The digest's "For you" learns from the reader's library (saved + upvoted papers) (#13).
    sa.Column("use_library", sa.Boolean, nullable=False, server_default=sa.true()),
    # How consent was given: "double-opt-in" | "signed-in" (digest/subscriptions.py); NULL before #13.
    sa.Column("consent", sa.String(16), nullable=True),
    # Mixed into the signed preferences and unsubscribe links; replacing it revokes old links.
    sa.Column("link_salt", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("pending_until", UTCDateTime(), nullable=True),
    sa.Column("confirmed_at", UTCDateTime(), nullable=True),
    sa.Column("left_at", UTCDateTime(), nullable=True),
)
sa.Index("ix_subscriptions_status", subscriptions.c.status)

# Single-use confirmation tokens: only the SHA-256 of the token is kept (DESIGN §6.10).
subscription_tokens = sa.Table(
    "subscription_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expires_at", UTCDateTime(), nullable=False),
    sa.Column("used_at", UTCDateTime(), nullable=True),
)
sa.Index("ix_subscription_tokens_subscription_id", subscription_tokens.c.subscription_id)

# The outbox: one row per (subscription, edition date), never two (issue #5). The state machine is
# documented in digest/outbox.py and docs/email.md. `papers` holds what was composed, so a retry
# sends the same papers; the message itself is rendered again at send time from it.
digest_editions = sa.Table(
    "digest_editions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("edition_date", sa.Date, nullable=False),
    sa.Column("since", sa.Date, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("papers", sa.JSON, nullable=False),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
    sa.Column("lease_owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("delivery_id", sa.String(255), nullable=True),
    sa.Column("error", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
    sa.Column("sent_at", UTCDateTime(), nullable=True),
    sa.UniqueConstraint("subscription_id", "edition_date", name="uq_digest_editions_subscription_date"),
)
sa.Index("ix_digest_editions_status_next", digest_editions.c.status, digest_editions.c.next_attempt_at)

# Every paper put in a subscriber's edition, so it is never sent to them again (issue #5).
sent_papers = sa.Table(
    "sent_papers",
    metadata,
    sa.Column(
        "subscription_id",
        sa.Integer,
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("paper_id", sa.String(64), primary_key=True),
    sa.Column(
        "edition_id", sa.Integer, sa.ForeignKey("digest_editions.id", ondelete="CASCADE"), nullable=False
    ),
)
sa.Index("ix_sent_papers_edition_id", sent_papers.c.edition_id)

# Addresses we must not mail again: hard bounces. Subscribing again does not lift it.
suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("email_key", sa.String(320), primary_key=True),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
