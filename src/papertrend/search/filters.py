"""Filters as SQL over the papers table, shared by every search mode so they agree (issue #3), and the
set of papers they let through, for the rankers that filter in memory (#16)."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.db import PerEngine
from papertrend.papers.repository import by_authors, in_categories, listing_day_expr
from papertrend.papers.tables import papers
from papertrend.types import Filters

I64 = npt.NDArray[np.int64]
# The day of a paper that has none (no listing, daily page or publication date): no date range holds it.
_NO_DAY = -1


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


def unknown_notes(missing: Filters) -> list[str]:
    """What to say of each category or author (`unknown`'s answer) that no stored paper has."""
    return [f"no paper here is in category {c!r}" for c in missing.categories] + [
        f"no paper here has an author named like {a!r}" for a in missing.authors
    ]


def _ordinal(value: Any) -> int:
    if value is None:
        return _NO_DAY
    day = value if isinstance(value, date) else date.fromisoformat(str(value))
    return day.toordinal()


class DayColumn:
    """Every paper's listing day in memory (pk-sorted arrays), kept in step with the store.

    A date filter that keeps most papers is the costly one in SQL: the listing-day index is on an
    expression, which neither SQLite nor PostgreSQL reads as a covering index, so listing the pks of
    every paper since the first listed day read all 80k rows (0.7–1.1 s at 80k, the slowest MCP call;
    issue #16). Here it is one vectorised comparison (~1 ms). Each use checks max(pk) and
    max(changed_at), two index seeks, and reads only the papers added or changed since: new papers
    always take a larger pk, and every change moves `changed_at` (papers.merge). A deleted paper's pk
    may linger; rankers drop pks they cannot name.
    """

    def __init__(self) -> None:
        self.pks: I64 = np.zeros(0, dtype=np.int64)
        self.days: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
        self._max_pk = 0
        self._max_changed: datetime | None = None
        self._lock = threading.Lock()

    def _refresh(self, conn: Connection) -> None:
        # One aggregate per statement, so each is an index seek (both in one scanned the index: 18 ms).
        max_pk = conn.execute(sa.select(sa.func.max(papers.c.pk))).scalar()
        max_changed = conn.execute(sa.select(sa.func.max(papers.c.changed_at))).scalar()
        if max_pk is None or (int(max_pk) == self._max_pk and max_changed == self._max_changed):
            return
        stmt = sa.select(papers.c.pk, listing_day_expr())
        if self._max_changed is not None:
            # >=: a batch written with the same timestamp as the last one read may have grown since.
            stmt = stmt.where(sa.or_(papers.c.pk > self._max_pk, papers.c.changed_at >= self._max_changed))
        rows = conn.execute(stmt).all()
        pks = np.fromiter((pk for pk, _ in rows), dtype=np.int64, count=len(rows))
        days = np.fromiter((_ordinal(d) for _, d in rows), dtype=np.int32, count=len(rows))
        known = np.isin(pks, self.pks, assume_unique=True)
        if known.any():
            at = np.searchsorted(self.pks, pks[known])
            self.days = self.days.copy()
            self.days[at] = days[known]
        new = ~known
        if new.any():
            merged_pks = np.concatenate([self.pks, pks[new]])
            merged_days = np.concatenate([self.days, days[new]])
            order = np.argsort(merged_pks, kind="stable")
            self.pks, self.days = merged_pks[order], merged_days[order]
        self._max_pk, self._max_changed = int(max_pk), max_changed

    def between(self, *, conn: Connection, since: date | None, until: date | None) -> tuple[I64, bool]:
        """The pks of papers listed in [since, until] (either end open), pk order; and whether that is
        every paper."""
        with self._lock:
            self._refresh(conn)
            pks, days = self.pks, self.days
        keep = days != _NO_DAY
        if since is not None:
            keep &= days >= since.toordinal()
        if until is not None:
            keep &= days <= until.toordinal()
        return pks[keep], bool(keep.all())


day_column = PerEngine(DayColumn)  # the process's day column of one database


def allowed_pks(*, conn: Connection, filters: Filters) -> I64 | None:
    """Paper pks that pass `filters` (sorted, unique), or None when they let every paper through."""
    rest = conditions(replace(filters, since=None, until=None))
    allowed: I64 | None = None
    if filters.since is not None or filters.until is not None:
        allowed, everything = day_column(conn.engine).between(
            conn=conn, since=filters.since, until=filters.until
        )
        if everything and not rest:
            return None
    if rest:
        found = np.asarray(conn.execute(sa.select(papers.c.pk).where(*rest)).scalars().all(), dtype=np.int64)
        found = np.unique(found)
        allowed = found if allowed is None else np.intersect1d(allowed, found, assume_unique=True)
    return allowed
