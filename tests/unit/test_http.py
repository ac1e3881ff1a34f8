"""PoliteClient manners, on an in-memory transport with a fake clock (issue #2)."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from papertrend.errors import SourceError
from papertrend.ingest.http import MAX_RETRY_AFTER, PoliteClient, parse_retry_after
from tests.fakes import FakeTime


def _client(handler, t: FakeTime, **kw: object) -> PoliteClient:  # type: ignore[no-untyped-def]
    return PoliteClient(
        user_agent="UA", sleep=t.sleep, clock=t.clock, transport=httpx.MockTransport(handler), **kw
    )  # type: ignore[arg-type]


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    # "²" passes str.isdigit() but not float(): a server's odd header is no header, not a crash.
    assert parse_retry_after("\u00b2") is None


def test_min_interval_between_requests() -> None:
    t = FakeTime()
    client = _client(lambda req: httpx.Response(200), t, min_interval=3.0)
    for _ in range(3):
        client.get("http://x/api")
        t.now += 0.5  # parsing took half a second
    assert t.sleeps == [2.5, 2.5]


def test_retry_after_capped_and_backoff_grows() -> None:
    t = FakeTime()
    answers = iter(
        [httpx.Response(503, headers={"Retry-After": "99999"}), httpx.Response(500), httpx.Response(200)]
    )
    client = _client(lambda req: next(answers), t, backoff=1.0)
    assert client.get("http://x/").status_code == 200
    assert t.sleeps[0] == MAX_RETRY_AFTER
    assert 0.5 <= t.sleeps[1] <= 3.0  # backoff * 2**1 * jitter in [0.5, 1.5)


def test_gives_up_with_a_message_naming_the_url() -> None:
    t = FakeTime()
    client = _client(lambda req: httpx.Response(502), t, retries=2)
    with pytest.raises(SourceError, match=r"http://x/feed\?q=1: HTTP 502; gave up after 3 tries"):
        client.get("http://x/feed", params={"q": "1"})


def test_ok_statuses_are_returned() -> None:
    t = FakeTime()
    client = _client(lambda req: httpx.Response(400, text="<feed/>"), t)
    assert client.get("http://x/", ok_statuses=frozenset({400})).status_code == 400
    with pytest.raises(SourceError, match="HTTP 400"):
        client.get("http://x/")
