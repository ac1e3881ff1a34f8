"""The expressions SQLite and PostgreSQL spell differently give the same answers on both (issue #6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers
from papertrend.search.filters import conditions
from papertrend.types import Filters

NOW = datetime(2026, 6, 25, tzinfo=UTC)


def _add(engine: Engine, pid: str, **fields: object) -> None:
    row = dict(id=pid, title=pid, authors=[], categories=[], sources=[], first_seen_at=NOW, changed_at=NOW)
    with transaction(engine) as conn:
        conn.execute(papers.insert(), {**row, **fields})


def test_paper_day_is_the_utc_day_and_filters_compare_dates(engine: Engine) -> None:
    # 23:30 in New York on the 21st is 04:30 UTC on the 22nd: the paper is dated the 22nd everywhere.
    _add(engine, "late", published_at=datetime(2026, 6, 21, 23, 30, tzinfo=timezone(timedelta(hours=-5))))
    _add(engine, "listed", listed_on=date(2026, 6, 20), published_at=datetime(2026, 6, 1, tzinfo=UTC))
    _add(engine, "hf", hf_daily_on=date(2026, 6, 23))
    _add(engine, "undated")
    with reading(engine) as conn:
        days = {pid: day for pid, day in conn.execute(sa.select(papers.c.id, listing_day_expr()))}
        since = Filters(since=date(2026, 6, 22), until=date(2026, 6, 23))
        found = set(conn.execute(sa.select(papers.c.id).where(*conditions(since))).scalars())
    assert days == {
        "late": date(2026, 6, 22),
        "listed": date(2026, 6, 20),
        "hf": date(2026, 6, 23),
        "undated": None,
    }
    assert found == {"late", "hf"}


def test_timestamps_come_back_in_utc_whatever_they_were_written_in(engine: Engine) -> None:
    written = datetime(2026, 6, 21, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    _add(engine, "tz", published_at=written)
    with reading(engine) as conn:
        read = conn.execute(sa.select(papers.c.published_at)).scalar_one()
    assert read == written
    assert read.tzinfo == UTC
