"""Keyword search: SQLite FTS5 with bm25() over title, abstract and authors (issue #3)."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

_IN_CHUNK = 900
_INDEX_NEW = sa.text(
    "INSERT INTO papers_fts(rowid, title, abstract, authors) "
    "SELECT pk, title, abstract, (SELECT group_concat(value, ', ') FROM json_each(papers.authors)) "
    "FROM papers WHERE id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))


def index_new(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """Add newly inserted papers to the keyword index, in the caller's transaction.

    Changed and deleted papers are kept in sync by triggers (migration 0002); new ones come here,
    set-based, because a per-row trigger halved bulk ingest speed.
    """
    if conn.dialect.name != "sqlite" or not paper_ids:
        return
    for start in range(0, len(paper_ids), _IN_CHUNK):
        conn.execute(_INDEX_NEW, {"ids": list(paper_ids[start : start + _IN_CHUNK])})
