"""Embedding as shared work: claims on batches of the backlog (issue #15).

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "embed_claims",
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("paper_pk", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name=op.f("fk_embed_claims_paper_pk_papers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("model", "paper_pk", name=op.f("pk_embed_claims")),
    )


def downgrade() -> None:
    op.drop_table("embed_claims")
