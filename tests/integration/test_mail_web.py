"""Addresses and mail failures through the forms: subscribe and sign-in (issue #12 items 1, 2, 9, 12)."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.accounts.tables import login_tokens
from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest.tables import subscriptions
from tests.digest_support import make_app, tuned
from tests.integration.mail_support import NOW, Clock, inbox
from tests.integration.web_support import Web

ENCODED = [
    "=?utf-8?q?victim7?=@example.org",
    "=?UTF-8?Q?victim7?=@example.org",
    "=?utf-8?b?dmljdGltNw==?=@example.org",
    "=?utf-8?q?a=40evil.org=2C_b3?=@example.org",
    "=?us-ascii?q?x=0D=0ABcc=3A_c=40evil.org?=@example.org",
]


def count(engine: Engine, table: sa.Table) -> int:
    with reading(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def web(settings: Settings, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> Web:
    # Generous IP limits: these tests are about the per-address rules.
    settings = tuned(settings, monkeypatch, subscribe_per_ip_per_hour=100, login_per_ip_per_hour=100)
    return Web(make_app(settings, engine, clock=clock))


@pytest.mark.parametrize("path", ["/subscribe", "/login"])
def test_encoded_words_are_refused_and_leave_nothing_behind(
    web: Web, settings: Settings, engine: Engine, path: str
) -> None:
    for raw in ENCODED:
        response = web.submit(path, data={"email": raw})
        assert response.status_code == 400, (raw, response.status_code)
        assert "encoded word" in response.text
    # Nothing stored, nothing mailed: no pending row, no token, no message to a decoded address.
    assert count(engine, subscriptions) == 0 and count(engine, login_tokens) == 0
    assert inbox(settings) == []


def test_one_inbox_gets_at_most_its_hourly_allowance(web: Web, settings: Settings) -> None:
    # #12: encoded spellings of one mailbox each had an allowance of their own (9 mails against 3).
    spellings = ["victim7@example.org", "Victim7@Example.org", " VICTIM7@example.ORG", *ENCODED[:3]] * 2
    for raw in spellings:
        assert web.submit("/subscribe", data={"email": raw}).status_code in (200, 400, 429)
    to_victim = [to for to, _, _ in inbox(settings) if "victim7" in to.lower()]
    assert len(to_victim) == settings.subscribe_per_address_per_hour == 3


def test_a_non_ascii_local_part_is_refused_and_an_idn_domain_mailed_as_idna(
    web: Web, settings: Settings, engine: Engine
) -> None:
    refused = web.submit("/subscribe", data={"email": "ü@exämple.org"})
    assert refused.status_code == 400 and "plain ASCII" in refused.text
    assert web.submit("/subscribe", data={"email": "user@exämple.org"}).status_code == 200
    assert web.submit("/login", data={"email": "user@xn--exmple-cua.org"}).status_code == 200
    assert [to for to, _, _ in inbox(settings)] == ["user@xn--exmple-cua.org"] * 2
    with reading(engine) as conn:
        assert conn.execute(sa.select(subscriptions.c.email)).scalars().all() == ["user@xn--exmple-cua.org"]


def test_a_local_part_of_65_characters_is_refused(web: Web, settings: Settings) -> None:
    assert web.submit("/subscribe", data={"email": "a" * 64 + "@example.org"}).status_code == 200
    response = web.submit("/subscribe", data={"email": "b" * 65 + "@example.org"})
    assert response.status_code == 400 and "too long" in response.text
    assert web.submit("/login", data={"email": "b" * 65 + "@example.org"}).status_code == 400


def test_an_unreadable_mailbox_is_said_not_a_500_and_no_page_claims_a_mail_is_coming(
    settings: Settings, engine: Engine, clock: Clock, tmp_path: Path
) -> None:
    # A file where the Maildir folder should be: unreadable and unwritable, whoever runs the tests.
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("")
    broken = settings.model_copy(update={"mail_url": f"maildir://{blocked}"})
    web = Web(make_app(broken, engine, clock=clock))
    listing = web.get("/_mailbox")
    assert listing.status_code == 503 and "cannot be read" in listing.text
    assert web.get("/_mailbox/1234.M1P1Q1.host").status_code == 503
    for path in ("/login", "/subscribe"):
        response = web.submit(path, data={"email": "ada@example.org"})
        assert response.status_code == 503, (path, response.status_code)
        assert "could not send" in response.text and "Check your inbox" not in response.text
    json = web.submit("/login", data={"email": "ada@example.org"}, headers={"accept": "application/json"})
    assert json.status_code == 503 and "could not send" in json.json()["error"]["message"]
