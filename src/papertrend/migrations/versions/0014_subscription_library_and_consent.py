"""Subscriptions: library-based recommendations on/off, and how consent was given (issue #13).

- `use_library`: whether the digest's "For you" learns from the reader's library (saved and upvoted
  papers); on for every existing subscriber, as it was before the switch existed.
- `consent`: how the subscriber agreed to mail: "double-opt-in" (pressed Confirm in the mailed link)
  or "signed-in" (subscribed on "Your email" in a session started by a link mailed to that address).
  NULL for rows confirmed before it was recorded (all of them by double opt-in).

`op.add_column` with server defaults runs on SQLite and PostgreSQL alike (no table rebuild).

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "subscriptions", sa.Column("use_library", sa.Boolean(), server_default=sa.true(), nullable=False)
    )
    op.add_column("subscriptions", sa.Column("consent", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("consent")
        batch_op.drop_column("use_library")
