"""Filters as SQL over the papers table, shared by every search mode so they agree (issue #3)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers.repository import by_authors, in_categories, listing_day_expr
from papertrend.papers.tables import papers
from papertrend.types import Filters


def conditions(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions on `papers` for the filters; empty when there is nothing to restrict."""
    where: list[sa.ColumnElement[bool]] = []
    day = listing_day_expr()
    if filters.since is not None:
        where.append(day >= filters.since)
    if filters.until is not None:
        where.append(day <= filters.until)
    if filters.categories:
        where.append(in_categories(filters.categories))
    if filters.authors:
        where.append(by_authors(filters.authors))
    return where


def _any(conn: Connection, condition: sa.ColumnElement[bool]) -> bool:
    stmt = sa.select(sa.literal(1)).select_from(papers).where(condition).limit(1)
    return conn.execute(stmt).first() is not None


def unknown(*, conn: Connection, filters: Filters) -> Filters:
    """The categories and authors of `filters` no stored paper has, so none is silently ignored (#14)."""
    return Filters(
        categories=tuple(c for c in filters.categories if not _any(conn, in_categories([c]))),
        authors=tuple(a for a in filters.authors if not _any(conn, by_authors([a]))),
    )
