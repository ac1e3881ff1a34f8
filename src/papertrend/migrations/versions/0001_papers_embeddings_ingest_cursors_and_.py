"""papers, embeddings, ingest cursors and runs

On PostgreSQL (issue #6) the pgvector extension is created first and `embeddings.vector` is a
`vector` (no fixed dimension); on SQLite it is a blob. PostgreSQL was not supported before issue #6,
so no PostgreSQL database was ever migrated with the blob column and this revision could change.

Revision ID: 0001
Revises:
Create Date: 2026-11-27 02:47:28.996396
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import VECTOR

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        # Needs a superuser (or a role allowed to) once per database; docs/postgres.md says how.
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "ingest_cursors",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=512), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name=op.f("pk_ingest_cursors")),
    )
    op.create_table(
        "ingest_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_runs")),
    )
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.create_index("ix_ingest_runs_source_finished", ["source", "finished_at"], unique=False)

    op.create_table(
        "papers",
        sa.Column("pk", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("abstract", sa.Text(), server_default="", nullable=False),
        sa.Column("authors", sa.JSON(), nullable=False),
        sa.Column("categories", sa.JSON(), nullable=False),
        sa.Column("primary_category", sa.String(length=64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("journal_ref", sa.Text(), nullable=True),
        sa.Column("doi", sa.String(length=255), nullable=True),
        sa.Column("license", sa.String(length=255), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("listed_on", sa.Date(), nullable=True),
        sa.Column("pdf_url", sa.Text(), nullable=True),
        sa.Column("code_url", sa.Text(), nullable=True),
        sa.Column("project_url", sa.Text(), nullable=True),
        sa.Column("hf_upvotes", sa.Integer(), nullable=True),
        sa.Column("hf_comments", sa.Integer(), nullable=True),
        sa.Column("hf_daily_on", sa.Date(), nullable=True),
        sa.Column("hf_submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("hf_ai_summary", sa.Text(), nullable=True),
        sa.Column("hf_ai_keywords", sa.JSON(), nullable=True),
        sa.Column("github_stars", sa.Integer(), nullable=True),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("pk", name=op.f("pk_papers")),
        sa.UniqueConstraint("id", name=op.f("uq_papers_id")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.create_index("ix_papers_hf_daily_on", ["hf_daily_on"], unique=False)
        batch_op.create_index("ix_papers_listed_on", ["listed_on"], unique=False)
        batch_op.create_index("ix_papers_published_at", ["published_at"], unique=False)

    op.create_table(
        "embeddings",
        sa.Column("model", sa.String(length=128), nullable=False),
        sa.Column("paper_pk", sa.Integer(), nullable=False),
        sa.Column("vector", sa.LargeBinary().with_variant(VECTOR(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["paper_pk"], ["papers.pk"], name=op.f("fk_embeddings_paper_pk_papers"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("model", "paper_pk", name=op.f("pk_embeddings")),
    )


def downgrade() -> None:
    op.drop_table("embeddings")
    with op.batch_alter_table("papers", schema=None) as batch_op:
        batch_op.drop_index("ix_papers_published_at")
        batch_op.drop_index("ix_papers_listed_on")
        batch_op.drop_index("ix_papers_hf_daily_on")

    op.drop_table("papers")
    with op.batch_alter_table("ingest_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_ingest_runs_source_finished")

    op.drop_table("ingest_runs")
    op.drop_table("ingest_cursors")
