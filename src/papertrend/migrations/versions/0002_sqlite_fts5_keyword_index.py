"""SQLite FTS5 keyword index over title, abstract and authors (issue #3).

An external-content table: the text lives once, in `papers`; the index keys rows by `papers.pk`.
Triggers re-index a paper whose text changed and drop a deleted one. New papers are indexed by the
papers repository with one INSERT … SELECT per batch (`search.keyword.index_new`): a per-row insert
trigger measured 14 s for the 74,728-paper file against 7 s set-based, halving ingest speed.
Authors are indexed as "Name, Name" rather than as their JSON text. The porter stemmer over unicode61
gives BM25 with stemming, which measured best on SciFact. PostgreSQL gets its tsvector in issue #6.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_AUTHORS_NEW = "(SELECT group_concat(value, ', ') FROM json_each(new.authors))"
_AUTHORS_OLD = "(SELECT group_concat(value, ', ') FROM json_each(old.authors))"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(
        "CREATE VIRTUAL TABLE papers_fts USING fts5("
        "title, abstract, authors, content='papers', content_rowid='pk', "
        "tokenize='porter unicode61 remove_diacritics 2')"
    )
    op.execute(
        f"""CREATE TRIGGER papers_fts_delete AFTER DELETE ON papers BEGIN
            INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
            VALUES ('delete', old.pk, old.title, old.abstract, {_AUTHORS_OLD});
        END"""
    )
    # Only when the indexed text changed: an upvote count moving must not re-index the abstract.
    op.execute(
        f"""CREATE TRIGGER papers_fts_update AFTER UPDATE OF title, abstract, authors ON papers
        WHEN old.title IS NOT new.title OR old.abstract IS NOT new.abstract OR old.authors IS NOT new.authors
        BEGIN
            INSERT INTO papers_fts(papers_fts, rowid, title, abstract, authors)
            VALUES ('delete', old.pk, old.title, old.abstract, {_AUTHORS_OLD});
            INSERT INTO papers_fts(rowid, title, abstract, authors)
            VALUES (new.pk, new.title, new.abstract, {_AUTHORS_NEW});
        END"""
    )
    op.execute(
        "INSERT INTO papers_fts(rowid, title, abstract, authors) SELECT pk, title, abstract, "
        "(SELECT group_concat(value, ', ') FROM json_each(papers.authors)) FROM papers"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("papers_fts_delete", "papers_fts_update"):
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS papers_fts")
