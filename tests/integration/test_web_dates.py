"""Every date parameter, any value: a page or a 400 that says why, never a 500 (#12, item 3).

`date=9999-12-31` and `week=9999-W52` once raised OverflowError (a 500): the day after, or a week's
Sunday, is past `date.max`. Days are now bounded to listings.FIRST_DAY … LAST_DAY.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.papers.listings import FIRST_DAY, LAST_DAY
from tests.integration.web_support import Web, load_papers, make_web

# Each route that reads a period, and each that reads search bounds, as pages, JSON and feeds.
PERIOD_URLS = ("/papers", "/api/daily_papers", "/feeds/daily.atom")
BOUND_URLS = (
    "/search?q=agents&mode=keyword",
    "/api/papers/search?q=agents&mode=keyword",
    "/feeds/search.atom?q=agents&mode=keyword",
)
EXAMPLES = hypothesis.settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def _in_range(day: date) -> bool:
    return FIRST_DAY <= day <= LAST_DAY


def _check(web: Web, url: str, *, ok: bool) -> None:
    response = web.get(url, headers={"accept": "application/json"})
    assert response.status_code == (200 if ok else 400), (url, response.status_code, response.text[:300])
    if not ok:
        error = response.json()["error"]  # a string under /api/ (Hugging Face's shape, #16)
        assert "out of range" in (error if isinstance(error, str) else error["message"]), url


@pytest.mark.parametrize(
    "query",
    ["date=9999-12-31", "date=9999-12-27", "week=9999-W52", "month=9999-12", "date=0001-01-01"],
)
def test_the_far_dates_that_were_500s_are_400s(web: Web, query: str) -> None:
    for url in PERIOD_URLS:
        _check(web, f"{url}?{query}", ok=False)


def test_the_first_and_last_days_are_served(web: Web) -> None:
    for url in PERIOD_URLS:
        for query in (f"date={FIRST_DAY}", f"date={LAST_DAY}", "week=2999-W52", "month=1900-01"):
            _check(web, f"{url}?{query}", ok=True)


@given(day=st.dates())
@EXAMPLES
def test_any_day(web: Web, day: date) -> None:
    for url in PERIOD_URLS:
        _check(web, f"{url}?date={day.isoformat()}", ok=_in_range(day))


@given(day=st.dates())
@EXAMPLES
def test_any_iso_week(web: Web, day: date) -> None:
    year, week, _ = day.isocalendar()
    monday = day - timedelta(days=day.weekday())
    for url in PERIOD_URLS:
        _check(web, f"{url}?week={year:04d}-W{week:02d}", ok=_in_range(monday))


@given(year=st.integers(1, 9999), month=st.integers(1, 12))
@EXAMPLES
def test_any_month(web: Web, year: int, month: int) -> None:
    for url in PERIOD_URLS:
        _check(web, f"{url}?month={year:04d}-{month:02d}", ok=_in_range(date(year, month, 1)))


@given(since=st.dates(), until=st.dates())
@EXAMPLES
def test_any_search_bounds(web: Web, since: date, until: date) -> None:
    for url in BOUND_URLS:
        response = web.get(f"{url}&since={since}&until={until}", headers={"accept": "application/json"})
        if not (_in_range(since) and _in_range(until)):
            assert response.status_code == 400 and "out of range" in response.text, (since, until)
        elif since > until:
            assert response.status_code == 400 and "is after" in response.text
        else:
            assert response.status_code == 200, (url, since, until, response.text[:300])
