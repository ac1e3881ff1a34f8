"""A page costs the same database statements whether it lists 3 papers or 40 (issue #4): no query
per paper (authors, votes, links) hides in a listing, a feed or the API."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.digest_support import add_papers, paper
from tests.integration.web_support import Web, make_web

DAY = date(2026, 8, 21)
NOON = datetime(2026, 8, 21, 12, tzinfo=UTC)
URLS = (
    "/",
    f"/papers?date={DAY.isoformat()}",
    "/papers?week=2026-W34",
    "/papers/trending?window=week",
    "/papers/trending?window=week&sort=upvotes",
    f"/api/daily_papers?date={DAY.isoformat()}",
    "/api/trending?window=week",
    "/feeds/daily.atom",
    "/feeds/trending.atom",
)


def _statements(engine: Engine, web: Web, url: str) -> int:
    seen = 0

    def count(*_: Any) -> None:
        nonlocal seen
        seen += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = web.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, (url, response.status_code)
    return seen


def _add(engine: Engine, first: int, last: int) -> None:
    add_papers(
        engine,
        [paper(f"2608.{i:05d}", f"Paper number {i}", day=DAY, upvotes=i) for i in range(first, last)],
        now=NOON,
    )


def test_statements_per_page_do_not_grow_with_its_papers(settings: Settings, engine: Engine) -> None:
    web = make_web(settings, engine, clock=lambda: NOON)
    _add(engine, 1, 4)
    for url in URLS:
        _statements(engine, web, url)  # first visits: caches and cookies settle
    few = {url: _statements(engine, web, url) for url in URLS}
    _add(engine, 4, 41)
    for url in URLS:
        # Again after the change: a cache of the period's papers (trending) refills once, one
        # statement more on that first visit only; what must not grow is each later visit.
        _statements(engine, web, url)
    many = {url: _statements(engine, web, url) for url in URLS}
    assert all(n > 0 for n in few.values()), few  # the app really runs its statements on this engine
    assert many == few
    assert "Paper number 40" in web.get(f"/papers?date={DAY.isoformat()}").text
