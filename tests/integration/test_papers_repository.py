"""The papers repository: one listing day for listings, search filters and the `Paper` record (#11)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.ingest.pipeline import store
from papertrend.papers import repository
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.search import filters as search_filters
from papertrend.types import Filters

NOW = datetime(2026, 3, 20, tzinfo=UTC)


def _papers() -> list[PaperIn]:
    return [
        PaperIn(id="2603.00001", title="Listed", source="jsonl", listed_on=date(2026, 3, 2)),
        PaperIn(
            id="2603.00002",
            title="On HF",
            source="hf-daily",
            authoritative=False,
            hf_daily_on=date(2026, 3, 2),
        ),
        # From the arXiv API: no listing day, only a publication time late in the UTC day.
        PaperIn(
            id="2603.00003",
            title="Published",
            source="arxiv-api",
            published_at=datetime(2026, 3, 2, 23, 30, tzinfo=UTC),
        ),
        PaperIn(id="2603.00004", title="Other day", source="jsonl", listed_on=date(2026, 3, 3)),
    ]


def test_listings_filters_and_papers_agree_on_the_listing_day(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(), now=NOW)
    day = date(2026, 3, 2)
    with reading(engine) as conn:
        listed = {p.id for p in repository.list_for_days(conn=conn, start=day, end=day)}
        where = search_filters.conditions(Filters(since=day, until=day))
        filtered = set(conn.execute(sa.select(papers.c.id).where(*where)).scalars())
        days = repository.listing_days(conn=conn, paper_ids=["2603.00001", "2603.00003", "2603.00004"])
        records = {p.id: p.listing_day for p in repository.get_many(conn=conn, paper_ids=sorted(listed))}
        assert repository.latest_day(conn=conn) == date(2026, 3, 3)
    assert listed == filtered == {"2603.00001", "2603.00002", "2603.00003"}
    assert days == {"2603.00001": day, "2603.00003": day, "2603.00004": date(2026, 3, 3)}
    assert set(records.values()) == {day}


def test_ids_for_pks_leaves_unknown_handles_out(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(), now=NOW)
    with reading(engine) as conn:
        pk = repository.get(conn=conn, paper_id="2603.00004")
        assert pk is not None
        assert repository.ids_for_pks(conn=conn, pks=[pk.pk, 999_999]) == {pk.pk: "2603.00004"}
