"""The daily email against a real SMTP server (aiosmtpd on 127.0.0.1), issue #5 item 8.

Subscribe → confirm by POST → the digest arrives with both parts and the list headers → one-click
POST unsubscribes → the next run sends nothing; 4xx then accept; 550 → bounced and suppressed;
server down → nothing lost; hostile titles and addresses cannot add headers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest import subscriptions as subs
from papertrend.digest.ranking import keyword_ranker
from papertrend.digest.run import run_digest
from papertrend.digest.tables import digest_editions, subscriptions, suppressions
from tests.digest_support import SmtpSink, add_papers, add_subscriber, at, free_port, make_app, paper, tuned
from tests.integration.web_support import Web

DAY = date(2026, 6, 23)  # a Tuesday
CONFIRMED = at(DAY - timedelta(days=2), 12)
FIRST_RUN = at(DAY, 8, 5)  # 08:05 UTC on the edition day


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.fixture
def smtp_settings(settings: Settings, sink: SmtpSink, monkeypatch: pytest.MonkeyPatch) -> Settings:
    # Two trending papers leave the other two for "For you".
    return tuned(
        settings, monkeypatch, mail_url=sink.url, mail_rate=0.0, mail_retry_seconds=60.0, digest_trending=2
    )


@pytest.fixture
def papers(engine: Engine) -> None:
    add_papers(
        engine,
        [
            paper("2606.00001", "Agents that simulate people in social science", day=DAY, upvotes=40),
            paper("2606.00002", "Diffusion models for video", day=DAY, upvotes=12, categories=["cs.CV"]),
            paper(
                "2606.00003", "Language agents as simulated survey respondents", day=DAY - timedelta(days=1)
            ),
            paper("2606.00004", "Graph neural networks at scale", day=DAY, upvotes=3, categories=["cs.LG"]),
        ],
    )


def run(engine: Engine, settings: Settings, now: datetime) -> str:
    return run_digest(engine=engine, settings=settings, ranker=keyword_ranker(engine), now=now).summary()


def editions(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with reading(engine) as conn:
        return list(conn.execute(sa.select(digest_editions).order_by(digest_editions.c.id)))


def test_subscribe_confirm_receive_and_one_click_unsubscribe(
    engine: Engine, smtp_settings: Settings, sink: SmtpSink, papers: None
) -> None:
    web = Web(make_app(smtp_settings, engine, clock=lambda: CONFIRMED))
    response = web.submit(
        "/subscribe",
        data={"email": "Reader@Example.org", "topics": "LLM agents that simulate people", "timezone": "UTC"},
    )
    assert response.status_code == 200 and "Check your inbox" in response.text
    [confirmation] = sink.received
    text = confirmation.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    confirm_url = re.search(r"https?://\S+/subscribe/confirm/\S+", text)
    assert confirm_url is not None
    path = "/" + confirm_url.group(0).split("/", 3)[3]

    # A link scanner's GET shows the button and confirms nothing.
    page = web.get(path)
    assert page.status_code == 200 and 'method="post"' in page.text and "Confirm" in page.text
    with reading(engine) as conn:
        assert conn.execute(sa.select(subscriptions.c.status)).scalar() == "pending"
    confirmed = web.submit(path)
    assert confirmed.status_code == 303 and confirmed.headers["location"].startswith("/preferences/")
    with reading(engine) as conn:
        assert conn.execute(sa.select(subscriptions.c.status)).scalar() == "confirmed"

    # Confirmed at CONFIRMED (two days before DAY): the first edition is DAY-1's at 08:00.
    assert "1 sent" in run(engine, smtp_settings, FIRST_RUN)
    digest = sink.received[-1].message
    assert digest.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in digest.iter_parts()] == ["text/plain", "text/html"]
    assert digest["To"] == "Reader@example.org"
    assert digest["Subject"].startswith("Trending papers — Tue 23 Jun: ")
    assert digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert digest["List-Id"] and digest["Date"] and digest["Message-ID"]
    unsubscribe = re.match(r"<(https?://[^>]+)>, <mailto:[^>]+>", str(digest["List-Unsubscribe"]))
    assert unsubscribe is not None
    html = digest.get_body(preferencelist=("html",)).get_content()  # type: ignore[union-attr]
    assert 'style="' in html and "/papers/2606.00001" in html and "For you" in html
    plain = digest.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Agents that simulate people in social science" in plain and "FOR YOU" in plain
    assert "Language agents as simulated survey respondents" in plain

    # Running again at once sends nothing: one edition per subscriber and day.
    run(engine, smtp_settings, FIRST_RUN + timedelta(minutes=5))
    assert len(sink.received) == 2

    # A mail client's one-click POST: no cookie, no page, just the body of RFC 8058.
    unsub_path = "/" + unsubscribe.group(1).split("/", 3)[3]
    response = web.post(
        unsub_path,
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "unsubscribed" in response.text
    add_papers(
        engine, [paper("2606.00009", "Agents that simulate people, again", day=DAY + timedelta(days=1))]
    )
    report = run(engine, smtp_settings, at(DAY + timedelta(days=1), 8, 5))
    assert "0 due" in report
    assert len(sink.received) == 2


def test_temporary_failures_are_retried_then_accepted(
    engine: Engine, smtp_settings: Settings, sink: SmtpSink, papers: None
) -> None:
    add_subscriber(engine, "slow@example.org", confirmed_at=CONFIRMED)
    sink.script_rcpt(
        "slow@example.org", ["451 4.7.1 Greylisted, try again later", "421 4.3.2 Closing", "250 OK"]
    )
    assert "1 to retry" in run(engine, smtp_settings, FIRST_RUN)
    [row] = editions(engine)
    assert row.status == "retry" and row.attempts == 1 and "451" in row.error
    # Backoff: 60 s after the first try, 120 s after the second.
    assert row.next_attempt_at == FIRST_RUN + timedelta(seconds=60) or row.next_attempt_at > FIRST_RUN
    assert "0 sent" in run(engine, smtp_settings, FIRST_RUN + timedelta(seconds=10))  # not due yet
    assert "1 to retry" in run(engine, smtp_settings, FIRST_RUN + timedelta(minutes=2))
    assert "1 sent" in run(engine, smtp_settings, FIRST_RUN + timedelta(minutes=10))
    [row] = editions(engine)
    assert row.status == "sent" and row.attempts == 3 and row.delivery_id.startswith("smtp:Q")
    assert len(sink.by_recipient()["slow@example.org"]) == 1


def test_a_refused_recipient_is_bounced_and_suppressed(
    engine: Engine, smtp_settings: Settings, sink: SmtpSink, papers: None
) -> None:
    add_subscriber(engine, "gone@example.org", confirmed_at=CONFIRMED)
    add_subscriber(engine, "fine@example.org", confirmed_at=CONFIRMED)
    sink.script_rcpt("gone@example.org", ["550 5.1.1 No such user"])
    run(engine, smtp_settings, FIRST_RUN)
    run(engine, smtp_settings, FIRST_RUN + timedelta(hours=1))  # bounce_after = 2 tries
    statuses = {r.subscription_id: r.status for r in editions(engine)}
    assert sorted(statuses.values()) == ["bounced", "sent"]
    with reading(engine) as conn:
        assert conn.execute(sa.select(suppressions.c.email_key)).scalars().all() == ["gone@example.org"]
        assert subs.get_by_email(conn=conn, email="gone@example.org").status == "bounced"  # type: ignore[union-attr]
    # Subscribing again answers the same page, and mails nothing to a suppressed address.
    web = Web(make_app(smtp_settings, engine, clock=lambda: FIRST_RUN))
    before = len(sink.received)
    response = web.submit("/subscribe", data={"email": "gone@example.org"})
    assert response.status_code == 200 and "Check your inbox" in response.text
    assert len(sink.received) == before
    assert sink.by_recipient().get("gone@example.org") is None


def test_server_down_loses_nothing_and_retries_later(
    engine: Engine, settings: Settings, papers: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()  # nothing listens here yet
    url = f"smtp://127.0.0.1:{port}"
    down = tuned(settings, monkeypatch, mail_url=url, mail_rate=0.0)
    for i in range(5):
        add_subscriber(engine, f"r{i}@example.org", confirmed_at=CONFIRMED)
    report = run_digest(engine=engine, settings=down, ranker=keyword_ranker(engine), now=FIRST_RUN)
    assert report.delivery is not None and report.delivery.stopped and report.delivery.sent == 0
    assert {r.status for r in editions(engine)} == {"retry"}
    server = SmtpSink()
    server.port = port
    from aiosmtpd.controller import Controller

    server.controller = Controller(server.handler, hostname="127.0.0.1", port=port)
    server.start()
    try:
        run(engine, down, FIRST_RUN + timedelta(hours=1))
        assert {r.status for r in editions(engine)} == {"sent"}
        assert sorted(server.by_recipient()) == [f"r{i}@example.org" for i in range(5)]
        assert all(len(v) == 1 for v in server.by_recipient().values())
    finally:
        server.stop()


def test_hostile_title_cannot_inject_headers(engine: Engine, smtp_settings: Settings, sink: SmtpSink) -> None:
    add_papers(
        engine,
        [paper("2606.00666", "Evil\r\nBcc: victim@example.org\r\nX-Injected: yes", day=DAY, upvotes=99)],
    )
    add_subscriber(engine, "reader@example.org", confirmed_at=CONFIRMED)
    assert "1 sent" in run(engine, smtp_settings, FIRST_RUN)
    [received] = sink.received
    assert received.rcpt_tos == ["reader@example.org"]
    msg = received.message
    assert msg["Bcc"] is None and msg["X-Injected"] is None
    assert msg["Subject"] == "Trending papers — Tue 23 Jun: Evil Bcc: victim@example.org X-Injected: yes"
    head = received.data.split(b"\r\n\r\n", 1)[0]
    assert not re.search(rb"(?m)^(Bcc|X-Injected):", head)


def test_an_address_with_a_newline_is_refused(
    engine: Engine, smtp_settings: Settings, sink: SmtpSink
) -> None:
    web = Web(make_app(smtp_settings, engine, clock=lambda: CONFIRMED))
    response = web.submit("/subscribe", data={"email": "a@example.org\r\nBcc: victim@example.org"})
    assert response.status_code == 400
    assert "characters no address can have" in response.text
    assert sink.received == []
