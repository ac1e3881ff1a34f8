"""Index embeddings by (model, created_at) so the vector index's freshness check is cheap (issue #3).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_embeddings_model_created", "embeddings", ["model", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_embeddings_model_created", table_name="embeddings")
