"""Subscribe, confirm, preferences, unsubscribe and the local mailbox, in-process (issue #5).

Mail goes to the test's own Maildir (the default backend), read back through /_mailbox as someone
trying Papertrend would.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.tables import digest_editions, subscription_tokens, subscriptions
from tests.digest_support import make_app, tuned
from tests.integration.mail_support import NOW, Clock, confirmed, inbox, link
from tests.integration.web_support import Web, page, parse_html


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def web(settings: Settings, engine: Engine, clock: Clock) -> Web:
    return Web(make_app(settings, engine, clock=clock))


def status_of(engine: Engine, email: str) -> str | None:
    with reading(engine) as conn:
        sub = subs.get_by_email(conn=conn, email=email)
    return sub.status if sub else None


def test_the_full_form_page_has_every_field_and_no_inline_code(web: Web) -> None:
    html = page(web, "/subscribe?email=ada@example.org")
    assert "Get trending papers in your inbox" in html.text
    names = {i.get("name") for i in html.inputs} | {"topics"}
    assert {"email", "include", "exclude", "categories", "cadence", "send_hour", "timezone"} <= names
    assert any(f.get("action") == "/subscribe" and f.get("method") == "post" for f in html.forms)
    assert html.style_attrs == 0 and html.styles == 0 and not html.inline_script and not html.handler_attrs


def test_banner_subscribe_then_confirm_through_the_local_mailbox(
    web: Web, engine: Engine, settings: Settings
) -> None:
    response = web.submit("/subscribe", data={"email": "Ada@Example.org"})
    assert response.status_code == 200
    html = parse_html(response.text)
    assert "Check your inbox" in html.text and "/_mailbox" in html.hrefs()
    assert status_of(engine, "ada@example.org") == "pending"

    listing = page(web, "/_mailbox")
    assert "Confirm your Papertrend subscription" in listing.text
    [message_url] = [h for h in listing.hrefs() if h.startswith("/_mailbox/")]
    message = page(web, message_url)
    [confirm] = [h for h in message.hrefs() if "/subscribe/confirm/" in h]
    confirm_path = "/" + confirm.split("/", 3)[3]
    html_view = web.get(message_url + "/html")
    assert html_view.status_code == 200 and "sandbox" in html_view.headers["content-security-policy"]

    # The token is stored only as its hash.
    token = confirm_path.rsplit("/", 1)[1]
    with reading(engine) as conn:
        stored = conn.execute(sa.select(subscription_tokens.c.token_hash)).scalars().all()
    assert token not in stored and len(stored) == 1 and len(stored[0]) == 64

    # GET shows a button and changes nothing, however often a scanner fetches it.
    for _ in range(2):
        shown = page(web, confirm_path)
        assert any(f.get("method") == "post" and f.get("action") == confirm_path for f in shown.forms)
    assert status_of(engine, "ada@example.org") == "pending"
    response = web.submit(confirm_path)
    assert response.status_code == 303
    assert status_of(engine, "ada@example.org") == "confirmed"
    welcome = page(web, response.headers["location"])
    assert "You are subscribed" in welcome.text and "Ada@example.org" in welcome.text
    # Confirming twice is harmless.
    assert web.submit(confirm_path).status_code == 303


def test_the_same_answer_whether_or_not_the_address_is_known(
    web: Web, engine: Engine, settings: Settings
) -> None:
    first = web.submit("/subscribe", data={"email": "new@example.org"})
    with transaction(engine) as conn:
        result = subs.subscribe(conn=conn, email="known@example.org", prefs=subs.Preferences(), now=NOW)
        assert result.token
        subs.confirm(conn=conn, token=result.token, now=NOW)
    second = web.submit("/subscribe", data={"email": "known@example.org", "topics": "attackers' topic"})
    assert first.status_code == second.status_code == 200
    assert first.text.replace("new@example.org", "X") == second.text.replace("known@example.org", "X")
    # The owner of the known address gets a "you are already subscribed" mail; nothing changed.
    # Mail is sent in the background and Maildir names do not keep the order, so compare as a set.
    mails = {to: (subject, body) for to, subject, body in inbox(settings)}
    assert {to: subject for to, (subject, _) in mails.items()} == {
        "new@example.org": "Confirm your Papertrend subscription",
        "known@example.org": "Your Papertrend subscription",
    }
    assert "/preferences/" in mails["known@example.org"][1]
    with reading(engine) as conn:
        known = subs.get_by_email(conn=conn, email="known@example.org")
    assert known is not None and known.status == "confirmed" and known.prefs.topics == ()


def test_invalid_addresses_get_a_clear_message(web: Web, settings: Settings) -> None:
    for bad, says in (
        ("", "Please enter your email address"),
        ("not-an-address", "does not look like an email address"),
        ("a@b@example.org", "does not look like an email address"),
        ("eve@example.org\nBcc: all@example.org", "characters no address can have"),
    ):
        response = web.submit("/subscribe", data={"email": bad})
        assert response.status_code == 400, bad
        assert says in parse_html(response.text).text, bad
    assert inbox(settings) == []


def test_bad_preferences_are_refused(web: Web) -> None:
    response = web.submit("/subscribe", data={"email": "a@example.org", "timezone": "Mars/Olympus"})
    assert response.status_code == 400 and "time zone" in response.text
    response = web.submit("/subscribe", data={"email": "a@example.org", "categories": "cs.CL, <b>"})
    assert response.status_code == 400 and "arXiv category" in response.text


def test_rate_limits_per_address_and_per_ip(
    settings: Settings, engine: Engine, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tuned(settings, monkeypatch, subscribe_per_address_per_hour=2, subscribe_per_ip_per_hour=4)
    web = Web(make_app(settings, engine, clock=clock))
    codes = [web.submit("/subscribe", data={"email": "x@example.org"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert len(inbox(settings)) == 2
    assert web.submit("/subscribe", data={"email": "y@example.org"}).status_code == 200
    # The IP's fifth attempt in the hour is refused, whatever the address.
    limited = web.submit("/subscribe", data={"email": "z@example.org"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    assert "text/html" in limited.headers["content-type"]
    # A JSON client is told when to retry too, in the one error shape (#11, #12).
    as_json = {"accept": "application/json"}
    limited = web.submit("/subscribe", data={"email": "z@example.org"}, headers=as_json)
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    assert limited.json()["error"]["message"].startswith("Too many subscription attempts")
    # Limits live in the database: a new app (a restart, another process) still counts them.
    again = Web(make_app(settings, engine, clock=clock))
    assert again.submit("/subscribe", data={"email": "z@example.org"}).status_code == 429
    clock.now += timedelta(hours=1, seconds=1)
    assert again.submit("/subscribe", data={"email": "x@example.org"}).status_code == 200


def test_unconfirmed_subscriptions_expire_after_seven_days(
    web: Web, engine: Engine, settings: Settings, clock: Clock
) -> None:
    web.submit("/subscribe", data={"email": "late@example.org"})
    confirm_path = link(inbox(settings)[0][2], "/subscribe/confirm/")
    clock.now = NOW + timedelta(days=7, minutes=1)
    assert web.get(confirm_path).status_code == 404
    assert web.submit(confirm_path).status_code == 404
    with transaction(engine) as conn:
        assert subs.purge_expired(conn=conn, now=clock.now) == 1
    assert status_of(engine, "late@example.org") is None


def test_preferences_are_edited_with_the_signed_link(web: Web, engine: Engine, settings: Settings) -> None:
    prefs_path = confirmed(web, settings, "pat@example.org")
    form = page(web, prefs_path)
    assert any(f.get("action") == prefs_path and f.get("method") == "post" for f in form.forms)
    response = web.submit(
        prefs_path,
        data={
            "topics": "LLM agents that simulate people\r\ndiffusion for video\r\n",
            "include": "agent, simulation",
            "exclude": "survey",
            "categories": "cs.CL cs.AI",
            "cadence": "weekly",
            "send_weekday": "4",
            "send_hour": "7",
            "timezone": "Europe/Paris",
        },
    )
    assert response.status_code == 303 and "saved=1" in response.headers["location"]
    with reading(engine) as conn:
        sub = subs.get_by_email(conn=conn, email="pat@example.org")
    assert sub is not None
    assert sub.prefs == subs.Preferences(
        topics=("LLM agents that simulate people", "diffusion for video"),
        include_keywords=("agent", "simulation"),
        exclude_keywords=("survey",),
        categories=("cs.CL", "cs.AI"),
        cadence="weekly",
        send_hour=7,
        send_weekday=4,
        timezone="Europe/Paris",
    )
    assert web.submit(prefs_path, data={"send_hour": "25"}).status_code == 400
    # A forged or altered token is refused.
    forged = prefs_path[:-3] + ("AAA" if not prefs_path.endswith("AAA") else "BBB")
    assert web.get(forged).status_code == 404
    other_id = "/preferences/999." + prefs_path.rsplit(".", 1)[1]
    assert web.get(other_id).status_code == 404


def test_pausing_cancels_an_edition_composed_but_not_sent(
    web: Web, engine: Engine, settings: Settings
) -> None:
    prefs_path = confirmed(web, settings, "pause@example.org")
    with reading(engine) as conn:
        sub = subs.get_by_email(conn=conn, email="pause@example.org")
    assert sub is not None
    with transaction(engine) as conn:
        conn.execute(
            digest_editions.insert().values(
                subscription_id=sub.id,
                edition_date=NOW.date(),
                since=NOW.date(),
                status="queued",
                papers={"trending": ["2606.00001"], "for_you": []},
                message_id="<m@x>",
                next_attempt_at=NOW,
                created_at=NOW,
                updated_at=NOW,
            )
        )
    assert web.submit(prefs_path, data={"paused": "1"}).status_code == 303
    with reading(engine) as conn:
        assert conn.execute(sa.select(digest_editions.c.status)).scalar() == "cancelled"
        assert conn.execute(sa.select(subscriptions.c.paused)).scalar() is True


def test_unsubscribe_shows_one_button_and_the_post_unsubscribes(
    web: Web, engine: Engine, settings: Settings
) -> None:
    confirmed(web, settings, "leaving@example.org")
    with reading(engine) as conn:
        sub = subs.get_by_email(conn=conn, email="leaving@example.org")
    assert sub is not None
    token = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="unsubscribe")
    shown = page(web, f"/unsubscribe/{token}")
    # One form, one button (the others on the page are the site's search box and banner).
    assert [f.get("method") for f in shown.forms if f.get("action") == f"/unsubscribe/{token}"] == ["post"]
    assert "Stop sending Papertrend emails to leaving@example.org?" in shown.text
    assert status_of(engine, "leaving@example.org") == "confirmed"
    # A preferences token does not unsubscribe, nor the reverse.
    manage = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="manage")
    # (The form's token comes from the real unsubscribe page: a subscribed browser's 404 page has no
    # banner form to take one from, #13.)
    assert web.submit(f"/unsubscribe/{manage}", page=f"/unsubscribe/{token}").status_code == 404
    response = web.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert status_of(engine, "leaving@example.org") == "unsubscribed"
    # Again: still fine (mail clients may retry).
    assert web.submit(f"/unsubscribe/{token}").status_code == 200
    # The old confirmation link cannot bring it back.
    confirm_path = link(inbox(settings)[0][2], "/subscribe/confirm/")
    assert web.submit(confirm_path).status_code == 404


def test_the_mailbox_is_off_in_production_and_for_other_backends(settings: Settings, engine: Engine) -> None:
    prod = settings.model_copy(update={"env": "production", "secret_key": "s" * 40})
    assert Web(make_app(prod, engine, clock=lambda: NOW)).get("/_mailbox").status_code == 404
    smtp = settings.model_copy(update={"mail_url": "smtp://mail.example.org:587"})
    assert Web(make_app(smtp, engine, clock=lambda: NOW)).get("/_mailbox").status_code == 404
    web = Web(make_app(settings, engine, clock=lambda: NOW))
    assert web.get("/_mailbox/..%2F..%2Fetc%2Fpasswd").status_code == 404
    assert web.get("/_mailbox/nope").status_code == 404


def test_json_clients_get_json(web: Web) -> None:
    ok = web.submit("/subscribe", data={"email": "j@example.org"}, headers={"accept": "application/json"})
    assert ok.json() == {"status": "check-your-inbox", "email": "j@example.org"}
    bad = web.submit("/subscribe", data={"email": "nope"}, headers={"accept": "application/json"})
    assert bad.status_code == 400 and "email address" in bad.json()["error"]["message"]
