"""Any text in any part of any GET address is a page or a clear 4xx, never a 5xx (issues #14, #15).

The search parameters have their own hypothesis test (test_web_search.py) and the API its schema test
(test_web_schema.py); this one also varies path segments (author names, paper ids, tokens) and the
listing, trending, feed and account addresses, on both databases: a NUL in `/authors/…` reached
PostgreSQL's text and was a 500 there.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.integration.web_support import Web, load_papers, make_web


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


URLS = (
    "/authors/{v}",
    "/authors/{v}.atom",
    "/papers/{v}",
    "/papers/{v}.md",
    "/abs/{v}",
    "/api/papers/{v}",
    "/api/papers/{v}/similar",
    "/c/{v}",
    "/c/{v}.atom",
    "/login/{v}",
    "/unsubscribe/{v}",
    "/preferences/{v}",
    "/subscribe/confirm/{v}",
    "/not-interested/{v}/{v}",
    "/search?q=agents&mode=keyword&since={v}",
    "/search?q=agents&mode=keyword&sort={v}",
    "/search?q=agents&mode=keyword&p={v}",
    "/search?q=agents&mode={v}",
    "/papers?week={v}",
    "/papers?date={v}",
    "/papers/trending?window={v}",
    "/api/papers?cursor={v}",
    "/feeds/search.atom?q={v}&mode=keyword",
    "/feeds/daily.atom?month={v}",
    "/login?next={v}",
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["x" * 5000, "..", "../../etc/passwd", "2401.00001v99", "%", "'; --", "\\", "\u202e"]),
)


@hypothesis.settings(max_examples=30, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@given(value=TEXT, raw=st.sampled_from(["", "%00", "%FF%FE", "%C3%28", "%2F", "%0A"]))
# "²" passes str.isdigit() but not int(): /unsubscribe/²3.0 was a 500 (found in a fresh-clone make test).
@hypothesis.example(value="\u00b23.0", raw="")
def test_any_text_anywhere_in_an_address_is_never_a_5xx(web: Web, value: str, raw: str) -> None:
    encoded = quote(value, safe="") + raw
    for url in URLS:
        response = web.get(url.format(v=encoded))
        assert response.status_code < 500, (url, value, raw, response.text[:300])


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("/authors/%00", "text/html"),
        ("/papers/2401.%0000001", "text/html"),
        ("/c/%00", "text/html"),
        ("/unsubscribe/abc%00def", "text/html"),
        ("/api/papers/2401.00001%00", "application/json"),
        ("/api/papers/search?q=a&author=%00", "application/json"),
    ],
)
def test_a_nul_in_the_path_is_a_400_in_the_routes_own_format(web: Web, url: str, kind: str) -> None:
    response = web.get(url)
    assert response.status_code == 400
    assert response.headers["content-type"].startswith(kind)
    assert "NUL" in response.text or "control characters" in response.text
