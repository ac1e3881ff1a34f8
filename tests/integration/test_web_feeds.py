"""Atom feeds, read back with feedparser, each test its own database (issue #4)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import feedparser
import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.integration.web_support import (
    HOSTILE_ABSTRACT,
    HOSTILE_ID,
    HOSTILE_TITLE,
    OLD_ID,
    TOP_ID,
    Web,
    load_papers,
    make_web,
    parse_html,
)

BASE = "http://127.0.0.1:8000"


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def feed(web: Web, url: str) -> Any:
    response = web.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    assert response.headers["content-type"] == "application/atom+xml; charset=utf-8"
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, (url, parsed.get("bozo_exception"))
    assert parsed.version == "atom10"
    return parsed


def entry_ids(parsed: Any) -> list[str]:
    return [e.link.removeprefix(f"{BASE}/papers/") for e in parsed.entries]


def test_trending_feed(web: Web) -> None:
    parsed = feed(web, "/feeds/trending.atom")
    assert parsed.feed.title == "Papertrend: trending papers (day)"
    assert parsed.feed.id == f"{BASE}/feeds/trending.atom"
    assert entry_ids(parsed)[0] == TOP_ID and OLD_ID not in entry_ids(parsed)
    top = parsed.entries[0]
    assert top.id == f"https://arxiv.org/abs/{TOP_ID}"
    assert top.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert top.summary.startswith("163 upvotes. LLM agents learn by interacting")
    assert [a.name for a in top.authors][:2] == ["Chengsong Huang", "Zifeng Wang"]
    assert top.published.startswith("2026-08-20") and top.updated
    assert {link.href for link in top.links} >= {
        f"{BASE}/papers/{TOP_ID}",
        f"https://arxiv.org/abs/{TOP_ID}",
        f"https://arxiv.org/pdf/{TOP_ID}",
    }
    week = feed(web, "/feeds/trending.atom?window=week")
    assert OLD_ID in entry_ids(week)
    assert web.get("/feeds/trending.atom?window=year").status_code == 422


def test_daily_feed_for_a_day_week_and_month(web: Web) -> None:
    latest = feed(web, "/feeds/daily.atom")
    assert len(latest.entries) == 18 and entry_ids(latest)[0] == TOP_ID
    assert latest.feed.link == f"{BASE}/papers?date=2026-08-21"
    march = feed(web, "/feeds/daily.atom?month=2025-03")
    assert len(march.entries) == 20
    splatting = next(e for e in march.entries if e.id == "https://arxiv.org/abs/2503.11731")
    assert [t.term for t in splatting.tags] == ["cs.CV", "cs.RO"]
    assert len(feed(web, "/feeds/daily.atom?week=2026-W34").entries) == 19
    assert feed(web, "/feeds/daily.atom?date=2025-03-19").entries == []
    assert web.get("/feeds/daily.atom?date=someday").status_code == 400


def test_search_feed(web: Web) -> None:
    parsed = feed(web, "/feeds/search.atom?q=SWE-bench+science&mode=keyword")
    assert "2608.19799" in entry_ids(parsed)
    assert parsed.feed.title == "Papertrend: search for SWE-bench science"
    assert parsed.feed.link.startswith(f"{BASE}/search?q=SWE-bench+science")
    assert feed(web, "/feeds/search.atom?q=zzyzxqq&mode=keyword").entries == []
    assert web.get("/feeds/search.atom").status_code == 422


def test_source_text_stays_text_in_feeds(web: Web) -> None:
    response = web.get("/feeds/search.atom?q=alert+title&mode=keyword")
    assert b"<script>" not in response.content and b"<img" not in response.content
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo
    hostile = next(e for e in parsed.entries if e.id == f"https://arxiv.org/abs/{HOSTILE_ID}")
    # feedparser unescapes text constructs: the title comes back exactly as the source wrote it.
    assert hostile.title == HOSTILE_TITLE
    assert HOSTILE_ABSTRACT in hostile.summary


def test_empty_store_feeds_are_valid(settings: Settings, engine: Engine) -> None:
    web = make_web(settings, engine)
    for url in ("/feeds/trending.atom", "/feeds/daily.atom", "/feeds/search.atom?q=x&mode=keyword"):
        assert feed(web, url).entries == []


def test_pages_link_their_feeds(web: Web) -> None:
    for url, expected in [
        ("/", "/feeds/daily.atom?date=2026-08-21"),
        ("/papers?week=2026-W34", "/feeds/daily.atom?week=2026-W34"),
        ("/papers/trending?window=month", "/feeds/trending.atom?window=month"),
        ("/search?q=agents&mode=keyword", "/feeds/search.atom?q=agents&mode=keyword"),
    ]:
        alternates = parse_html(web.get(url).text).alternates("application/atom+xml")
        assert expected in alternates, (url, alternates)
        assert feed(web, expected).entries or url.startswith("/search")
