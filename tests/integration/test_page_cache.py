"""The page cache for anonymous visitors (papertrend.web.pagecache, issue #4), in-process.

The rest of the suite runs with the cache off (tests/conftest.py); here it is on, and the tests
change the database behind the app's back, as another process would.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.web.app import create_app
from papertrend.web.cookies import CSRF_COOKIE, CSRF_PLACEHOLDER
from tests.digest_support import add_papers, paper
from tests.integration.accounts_support import sign_in_by_mail
from tests.integration.mail_support import Clock
from tests.integration.web_support import Web, parse_html

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)
DAY = date(2026, 6, 19)
LIKED = "2606.00001"
TTL = 0.6


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def cached(settings: Settings, engine: Engine, clock: Clock) -> Settings:
    add_papers(engine, [paper(LIKED, "Agents that simulate people", day=DAY, upvotes=5)], now=NOW)
    return settings.model_copy(update={"page_cache_seconds": TTL})


def browser(settings: Settings, engine: Engine, clock: Clock) -> Web:
    return Web(create_app(settings, engine=engine, clock=clock))


def visitor(web: Web) -> Web:
    """Another browser (its own cookies) on the same app, so the same process and cache."""
    return Web(web.app)


def tokens(html: str) -> set[str]:
    return {i.get("value", "") for i in parse_html(html).inputs if i.get("name") == "csrf_token"}


def test_anonymous_pages_are_kept_for_the_ttl_then_rendered_again(
    cached: Settings, engine: Engine, clock: Clock
) -> None:
    web = browser(cached, engine, clock)
    assert "Agents that simulate people" in web.get("/").text
    # Another process adds a paper: this one keeps answering from its cache until the entry expires.
    add_papers(engine, [paper("2606.00003", "Rain removal from one photograph", day=DAY)], now=NOW)
    assert "Rain removal" not in web.get("/").text
    assert "Rain removal" not in visitor(web).get("/").text
    time.sleep(TTL + 0.1)
    assert "Rain removal" in web.get("/").text


def test_each_browser_gets_its_own_csrf_token_in_a_cached_page(
    cached: Settings, engine: Engine, clock: Clock
) -> None:
    first, second = browser(cached, engine, clock), None
    html = first.get("/").text
    second = visitor(first)
    second_html = second.get("/").text  # a cache hit: rendered for `first`
    for page in (html, second_html, first.get("/").text, second.get("/").text):
        assert CSRF_PLACEHOLDER not in page
    # A first visit is given the cookie that goes with its token, as an uncached page would be.
    assert first.cookies.get(CSRF_COOKIE) and second.cookies.get(CSRF_COOKIE)
    assert first.cookies.get(CSRF_COOKIE) != second.cookies.get(CSRF_COOKIE)
    assert len(tokens(html)) == 1 and tokens(html) != tokens(second_html)
    assert tokens(first.get("/").text) == tokens(html)  # stable per browser across hits
    # Each token works for its own browser's forms, and not for the other's.
    [own] = tokens(second_html)
    [foreign] = tokens(html)
    ok = second.post("/subscribe", data={"email": "a@example.org", "csrf_token": own})
    assert ok.status_code in (200, 303), ok.text
    forged = second.post("/subscribe", data={"email": "b@example.org", "csrf_token": foreign})
    assert forged.status_code == 403


def test_signed_in_readers_and_writes_through_this_process_see_fresh_pages(
    cached: Settings, engine: Engine, clock: Clock
) -> None:
    anonymous = browser(cached, engine, clock)

    def count(web: Web) -> str:
        return web.get(f"/api/papers/{LIKED}").json()["upvotes"]

    assert count(anonymous) == 5
    reader = visitor(anonymous)
    sign_in_by_mail(reader, cached, "a@example.org")
    voted = reader.submit(f"/papers/{LIKED}/upvote", {"vote": "1"}, page=f"/papers/{LIKED}")
    assert voted.status_code == 303
    # The POST went through this process: its cache was emptied, so everyone sees the vote now.
    assert count(reader) == 6
    assert count(anonymous) == 6


def test_errors_are_not_kept_and_hits_are_complete_answers(
    cached: Settings, engine: Engine, clock: Clock
) -> None:
    web = browser(cached, engine, clock)
    assert web.get("/papers/2606.00009").status_code == 404
    add_papers(engine, [paper("2606.00009", "Arrived after a 404", day=DAY)], now=NOW)
    assert web.get("/papers/2606.00009").status_code == 200  # within the TTL: the 404 was not kept
    first, hit = web.get("/"), web.get("/")
    # A hit is the page, with the same security headers and an exact length.
    assert hit.text == first.text and hit.headers["content-type"] == first.headers["content-type"]
    assert hit.headers["content-security-policy"] == first.headers["content-security-policy"]
    assert int(hit.headers["content-length"]) == len(hit.content)
