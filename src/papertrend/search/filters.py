"""Filters as SQL over the papers table, shared by every search mode so they agree (issue #3)."""

from __future__ import annotations

import sqlalchemy as sa

from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers
from papertrend.types import Filters


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def conditions(filters: Filters) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions on `papers` for the filters; empty when there is nothing to restrict."""
    where: list[sa.ColumnElement[bool]] = []
    day = listing_day_expr()
    if filters.since is not None:
        where.append(day >= filters.since)
    if filters.until is not None:
        where.append(day <= filters.until)
    if filters.categories:
        # Categories are a JSON list of strings; matching the quoted name in its text is portable
        # across SQLite and PostgreSQL and cannot match a prefix ("cs.C" never matches "cs.CL").
        cats = sa.cast(papers.c.categories, sa.Text)
        where.append(sa.or_(*(cats.like(f'%"{_like_escape(c)}"%', escape="\\") for c in filters.categories)))
    if filters.authors:
        names = sa.func.lower(sa.cast(papers.c.authors, sa.Text))
        where.append(
            sa.or_(*(names.like(f"%{_like_escape(a.lower())}%", escape="\\") for a in filters.authors))
        )
    return where
