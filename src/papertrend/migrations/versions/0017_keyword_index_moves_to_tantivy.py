"""Keyword search moves to a tantivy index under the data dir (issue #15): the database's own drop.

SQLite's FTS5 table (0002) and PostgreSQL's weighted tsvector (0007) and BM25 postings (0008) are no
longer read: search/tantivy_index.py indexes the papers from the database, on disk. Dropping them is
most of the ingest speed-up: the postings made bulk ingest on PostgreSQL ~280 papers/s and held
918 MB at 80k papers. Downgrading rebuilds them from the papers, as their own migrations did.

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import importlib

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_OLD = (
    "papertrend.migrations.versions.0002_sqlite_fts5_keyword_index",
    "papertrend.migrations.versions.0007_postgres_tsvector_keyword_index",
    "papertrend.migrations.versions.0008_postgres_bm25_postings",
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("papers_fts_delete", "papers_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS papers_fts")
        return
    # 0008 then 0007, each undoing what it made (they are no-ops on the other database).
    for name in reversed(_OLD[1:]):
        importlib.import_module(name).downgrade()


def downgrade() -> None:
    for name in _OLD:
        importlib.import_module(name).upgrade()
