"""The listing-day index covers the one listing-day expression, publication day included (#11).

Listings grouped papers by coalesce(listed_on, hf_daily_on) while search filters, date sorts and
digests used coalesce(listed_on, hf_daily_on, publication day): a paper from the arXiv API (no
listing day) was found by a date filter but never listed. Now one expression serves all of them
(papers.repository.listing_day_expr), and day pages keep their index: 10–28 ms at 85k papers
against ~480 ms without it (migration 0003).

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from papertrend.sql import utc_day

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_papers_listing_day", table_name="papers")
    op.create_index(
        "ix_papers_listing_day",
        "papers",
        [
            sa.func.coalesce(
                sa.column("listed_on"), sa.column("hf_daily_on"), utc_day(sa.column("published_at"))
            )
        ],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_papers_listing_day", table_name="papers")
    op.create_index(
        "ix_papers_listing_day", "papers", [sa.text("coalesce(listed_on, hf_daily_on)")], unique=False
    )
