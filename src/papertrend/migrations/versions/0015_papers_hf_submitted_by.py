"""Who put a paper on Hugging Face's daily page (`submittedOnDailyBy`, issue #16): the ingest parsed
it and dropped it; the API now answers it in Hugging Face's shape.

`op.add_column` of a nullable column: the same plain ALTER TABLE on SQLite and PostgreSQL.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("papers", sa.Column("hf_submitted_by", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_column("hf_submitted_by")
