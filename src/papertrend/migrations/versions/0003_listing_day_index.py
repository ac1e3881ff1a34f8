"""Index the listing day expression the daily, weekly and monthly pages filter on (issue #4).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_papers_listing_day", "papers", [sa.text("coalesce(listed_on, hf_daily_on)")], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_papers_listing_day", table_name="papers")
