"""Passwordless sign-in, sessions, CSRF and sign-in rate limits, in-process (issue #4, part 2).

Mail goes to the test's own Maildir (the default backend) and the link is read back from it, as
someone trying Papertrend would click it in /_mailbox.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.accounts.tables import login_tokens, sessions, users
from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest.tables import subscriptions
from papertrend.papers.tables import votes
from papertrend.security import hash_token
from tests.integration.accounts_support import (
    LIKED,
    add_two_papers,
    ask_link,
    count,
    make,
    sign_in_by_mail,
)
from tests.integration.mail_support import NOW, Clock, inbox
from tests.integration.web_support import Web, page, parse_html


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def papers(engine: Engine) -> None:
    add_two_papers(engine)


@pytest.fixture
def web(settings: Settings, engine: Engine, clock: Clock, papers: None) -> Web:
    return make(settings, engine, clock)


def set_cookie(response: httpx.Response, name: str) -> str:
    [header] = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    return header


def signed_in_as(web: Web) -> str | None:
    html = parse_html(web.get("/papers/trending").text)
    if any(f.get("action") == "/logout" for f in html.forms):
        return html.text
    return None


# ------------------------------------------------------------------------------------------- sign-in


@pytest.mark.parametrize("https", [False, True])
def test_link_from_mail_get_shows_a_button_and_only_the_post_signs_in(
    settings: Settings, engine: Engine, clock: Clock, papers: None, https: bool
) -> None:
    web = make(settings, engine, clock, https=https)
    path = ask_link(web, settings, "Ada@Example.org", next=f"/papers/{LIKED}")
    token = path.rsplit("/", 1)[1]

    # Stored only as its hash, with a 15-minute expiry; nothing else made yet.
    with reading(engine) as conn:
        [row] = conn.execute(sa.select(login_tokens)).mappings().all()
    assert row["token_hash"] == hash_token(token) and token not in str(dict(row))
    assert row["expires_at"] == NOW + timedelta(minutes=15) and row["used_at"] is None
    assert count(engine, users) == 0

    # A mail scanner's GET (however many) signs nobody in and uses nothing up.
    for _ in range(2):
        shown = web.get(path)
        assert shown.status_code == 200
        assert "papertrend_session" not in str(shown.headers.get_list("set-cookie"))
        html = parse_html(shown.text)
        assert any(f.get("action") == path and f.get("method") == "post" for f in html.forms)
        assert "Press the button to sign in as Ada@example.org" in html.text
    with reading(engine) as conn:
        assert conn.execute(sa.select(login_tokens.c.used_at)).scalar() is None
    assert count(engine, sessions) == 0 and signed_in_as(web) is None

    # The POST signs in and goes back to where sign-in began.
    response = web.submit(path)
    assert response.status_code == 303 and response.headers["location"] == f"/papers/{LIKED}"
    cookie = set_cookie(response, "papertrend_session")
    flags = [f.strip().lower() for f in cookie.split(";")]
    assert "httponly" in flags and "samesite=lax" in flags and "path=/" in flags
    assert f"max-age={30 * 24 * 3600}" in flags
    assert ("secure" in flags) is https
    # The session is stored as a hash too.
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    with reading(engine) as conn:
        assert conn.execute(sa.select(sessions.c.token_hash)).scalars().all() == [hash_token(value)]
        assert conn.execute(sa.select(users.c.email)).scalars().all() == ["Ada@example.org"]
    assert "Ada@example.org" in (signed_in_as(web) or "")

    # The link works once.
    again = web.submit(path)
    assert again.status_code == 410 and "This link was already used" in again.text
    assert count(engine, sessions) == 1


def test_the_csrf_cookie_has_the_same_flags(settings: Settings, engine: Engine, clock: Clock) -> None:
    for https in (False, True):
        response = make(settings, engine, clock, https=https).get("/login")
        flags = [f.strip().lower() for f in set_cookie(response, "papertrend_csrf").split(";")]
        assert "httponly" in flags and "samesite=lax" in flags and ("secure" in flags) is https


def test_expired_and_unknown_links_explain_and_offer_a_new_one(
    web: Web, settings: Settings, engine: Engine, clock: Clock
) -> None:
    path = ask_link(web, settings, "late@example.org")
    clock.now = NOW + timedelta(minutes=15)
    shown = web.get(path)
    assert shown.status_code == 410 and "This link has expired" in shown.text
    html = parse_html(shown.text)
    assert any(f.get("action") == "/login" for f in html.forms)
    assert any(i.get("name") == "email" and i.get("value") == "late@example.org" for i in html.inputs)
    posted = web.submit(path)
    assert posted.status_code == 410 and "papertrend_session" not in str(
        posted.headers.get_list("set-cookie")
    )
    assert count(engine, sessions) == 0 and count(engine, users) == 0
    unknown = web.get("/login/not-a-token")
    assert unknown.status_code == 404 and "This link is not valid" in unknown.text
    assert web.submit("/login/not-a-token").status_code == 404
    # A new link works.
    clock.now = NOW + timedelta(minutes=16)
    assert web.submit(ask_link(web, settings, "late@example.org")).status_code == 303


def test_the_same_answer_whether_or_not_the_address_has_an_account(
    web: Web, settings: Settings, engine: Engine
) -> None:
    sign_in_by_mail(web, settings, "known@example.org")
    stranger = make(settings, engine, Clock(NOW))
    known = stranger.submit("/login", {"email": "known@example.org"})
    new = stranger.submit("/login", {"email": "new@example.org"})
    assert known.status_code == new.status_code == 200
    assert known.text.replace("known@example.org", "X") == new.text.replace("new@example.org", "X")
    # Asking creates no account; only using a link does.
    assert count(engine, users) == 1


def test_invalid_addresses_get_a_clear_message_and_no_mail(web: Web, settings: Settings) -> None:
    for bad, says in (
        ("", "Please enter your email address"),
        ("not-an-address", "does not look like an email address"),
        ("eve@example.org\r\nBcc: all@example.org", "characters no address can have"),
    ):
        response = web.submit("/login", {"email": bad})
        assert response.status_code == 400, bad
        assert says in parse_html(response.text).text, bad
    assert inbox(settings) == []


def test_next_never_leads_to_another_site(web: Web, settings: Settings, engine: Engine) -> None:
    for evil in ("//evil.example", "https://evil.example/", "/\\evil.example", "/\t/evil.example"):
        assert not any(
            i.get("value") == evil for i in page(web, "/login?" + urlencode({"next": evil})).inputs
        )
        path = ask_link(web, settings, "ada@example.org", next=evil)
        response = web.submit(path)
        assert response.status_code == 303 and response.headers["location"] == "/", evil
        upvoted = web.submit(f"/papers/{LIKED}/upvote", {"next": evil}, page=f"/papers/{LIKED}")
        assert upvoted.status_code == 303 and upvoted.headers["location"] == f"/papers/{LIKED}", evil
        out = web.submit("/logout", {"next": evil}, page="/")
        assert out.status_code == 303 and out.headers["location"] == "/", evil


def test_sign_out_ends_the_session_on_the_server(
    web: Web, settings: Settings, engine: Engine, clock: Clock
) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    value = web.cookies.get("papertrend_session")
    assert value and signed_in_as(web)
    response = web.submit("/logout", page="/")
    assert response.status_code == 303
    assert "max-age=0" in set_cookie(response, "papertrend_session").lower()
    assert count(engine, sessions) == 0 and signed_in_as(web) is None
    # A copy of the old cookie is worth nothing now.
    replay = make(settings, engine, clock)
    replay.cookies.set("papertrend_session", value)
    assert signed_in_as(replay) is None
    assert (
        replay.submit(f"/papers/{LIKED}/upvote", page=f"/papers/{LIKED}")
        .headers["location"]
        .startswith("/login?next=")
    )


def test_signing_in_again_replaces_the_browsers_session(web: Web, settings: Settings, engine: Engine) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    sign_in_by_mail(web, settings, "bob@example.org")
    assert count(engine, sessions) == 1 and "bob@example.org" in (signed_in_as(web) or "")


def test_sessions_expire(settings: Settings, engine: Engine, clock: Clock, papers: None) -> None:
    web = make(settings, engine, clock, session_days=2)
    sign_in_by_mail(web, settings, "ada@example.org")
    clock.now = NOW + timedelta(days=2, seconds=1)
    assert signed_in_as(web) is None


# ----------------------------------------------------------------------------------------------- CSRF


def test_forms_without_the_right_csrf_token_are_refused_and_change_nothing(
    web: Web, settings: Settings, engine: Engine, clock: Clock
) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    mails = len(inbox(settings))
    other_browser = make(settings, engine, clock).csrf("/")
    for token in (None, "", "forged", other_browser):
        data = {} if token is None else {"csrf_token": token}
        for url, fields in (
            (f"/papers/{LIKED}/upvote", {"vote": "1"}),
            ("/login", {"email": "ada@example.org"}),
            ("/logout", {}),
            ("/subscribe", {"email": "sub@example.org"}),
        ):
            response = web.post(url, data={**fields, **data})
            assert response.status_code == 403, (url, token)
            assert "did not come from a page of this site" in parse_html(response.text).text
    assert count(engine, votes) == 0 and count(engine, subscriptions) == 0
    assert len(inbox(settings)) == mails and signed_in_as(web)
    # A sign-in link's POST needs it too: a forged page cannot sign a victim into an attacker's account.
    path = ask_link(web, settings, "mallory@example.org")
    assert web.post(path).status_code == 403
    with reading(engine) as conn:
        assert (
            conn.execute(
                sa.select(login_tokens.c.used_at).where(login_tokens.c.email == "mallory@example.org")
            ).scalar()
            is None
        )
    # The right token without its cookie (another browser replaying it) fails as well.
    token = web.csrf("/")
    stranger = make(settings, engine, clock)
    assert (
        stranger.post("/subscribe", data={"email": "sub@example.org", "csrf_token": token}).status_code == 403
    )
    # JSON clients get the error as JSON.
    refused = web.post(f"/papers/{LIKED}/upvote", headers={"accept": "application/json"})
    assert refused.status_code == 403 and refused.json()["error"]["status"] == 403


def test_requests_the_browser_marks_as_from_another_site_are_refused_despite_the_token(
    web: Web, settings: Settings, engine: Engine
) -> None:
    token = web.csrf("/subscribe")
    for headers in (
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},  # a sibling host is not this site
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"sec-fetch-site": "cross-site", "origin": "http://testserver"},
    ):
        response = web.post(
            "/subscribe", data={"email": "sub@example.org", "csrf_token": token}, headers=headers
        )
        assert response.status_code == 403, headers
    assert count(engine, subscriptions) == 0
    # This site's own forms, as browsers old and new mark them, pass.
    for i, headers in enumerate(
        (
            {"sec-fetch-site": "same-origin", "origin": "http://testserver"},
            {"origin": "http://testserver"},
            {"origin": settings.base_url.rstrip("/")},  # behind a proxy: the public address
        )
    ):
        data = {"email": f"sub{i}@example.org", "csrf_token": token}
        assert web.post("/subscribe", data=data, headers=headers).status_code == 200, headers


def test_signing_in_rotates_the_csrf_token(web: Web, settings: Settings) -> None:
    before = web.csrf("/")
    cookie_before = web.cookies.get("papertrend_csrf")
    sign_in_by_mail(web, settings, "ada@example.org")
    assert web.cookies.get("papertrend_csrf") not in (None, cookie_before)
    after = web.csrf("/")
    assert after != before
    # A token learnt before sign-in (say, from a page an attacker saw) no longer works.
    stale = web.post(f"/papers/{LIKED}/upvote", data={"vote": "1", "csrf_token": before})
    assert stale.status_code == 403
    assert web.post(f"/papers/{LIKED}/upvote", data={"vote": "1", "csrf_token": after}).status_code in (
        200,
        303,
    )


def test_one_click_unsubscribe_from_a_mail_client_needs_no_csrf_token(
    web: Web, settings: Settings, engine: Engine, clock: Clock
) -> None:
    from papertrend.digest import subscriptions as subs
    from tests.digest_support import add_subscriber

    sub = add_subscriber(engine, "leaving@example.org", confirmed_at=NOW)
    token = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="unsubscribe")
    # The page's button is a form like any other: without the token it is refused …
    assert web.post(f"/unsubscribe/{token}").status_code == 403
    # … but a mail client's RFC 8058 POST carries no cookie and no token, only this body.
    mail_client = make(settings, engine, clock)
    response = mail_client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and not mail_client.cookies.get("papertrend_session")
    with reading(engine) as conn:
        assert conn.execute(sa.select(subscriptions.c.status)).scalar() == "unsubscribed"


# ----------------------------------------------------------------------------------------- rate limits


def test_sign_in_mails_are_rate_limited_per_address_and_per_ip(
    settings: Settings, engine: Engine, clock: Clock, papers: None
) -> None:
    web = make(settings, engine, clock, login_per_address_per_hour=2, login_per_ip_per_hour=4)
    codes = [web.submit("/login", {"email": "x@example.org"}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert len(inbox(settings)) == 2
    assert web.submit("/login", {"email": "y@example.org"}).status_code == 200
    # The IP's fifth request in the hour is refused, whatever the address.
    limited = web.submit("/login", {"email": "z@example.org"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    assert "Too many sign-in attempts" in limited.text
    # A JSON client is told when to retry too, in the one error shape (#11, #12).
    limited = web.submit("/login", {"email": "z@example.org"}, headers={"accept": "application/json"})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "3600"
    assert limited.json()["error"]["status"] == 429
    assert len(inbox(settings)) == 3
    # Sign-in and the subscribe form count apart: subscribing still works from this IP.
    assert web.submit("/subscribe", {"email": "z@example.org"}).status_code == 200
    # Limits live in the database: a restarted app still counts them; an hour later they reset.
    again = make(settings, engine, clock, login_per_address_per_hour=2, login_per_ip_per_hour=4)
    assert again.submit("/login", {"email": "z@example.org"}).status_code == 429
    clock.now += timedelta(hours=1, seconds=1)
    assert again.submit("/login", {"email": "x@example.org"}).status_code == 200


# ------------------------------------------------------------------------------------------------ CLI


def test_users_cli_lists_and_deletes_accounts(web: Web, settings: Settings, engine: Engine) -> None:
    from typer.testing import CliRunner

    from papertrend.cli import app

    sign_in_by_mail(web, settings, "ada@example.org")
    web.submit(f"/papers/{LIKED}/upvote", {"vote": "1"}, page=f"/papers/{LIKED}")
    runner = CliRunner()
    listed = runner.invoke(app, ["users", "list"])
    assert listed.exit_code == 0, listed.output
    assert "ada@example.org" in listed.output and "1 users" in listed.output
    assert runner.invoke(app, ["users", "delete", "nobody@example.org", "--yes"]).exit_code == 1
    deleted = runner.invoke(app, ["users", "delete", "ADA@example.org", "--yes"])
    assert deleted.exit_code == 0, deleted.output
    # Deleting signs the person out at once and takes their votes back.
    assert count(engine, users) == count(engine, sessions) == count(engine, votes) == 0
    assert signed_in_as(web) is None
    assert runner.invoke(app, ["users", "purge"]).exit_code == 0
