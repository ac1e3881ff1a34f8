""" "Your email" for a signed-in reader, and a banner that knows its reader (#13, item 1), in-process.

One person, one account: the page manages the subscription of the signed-in address; subscribing
there needs no confirmation mail (the session came from a link mailed to that address) and records
consent; an error keeps everything typed. The banner stops asking subscribers for their address.
"""

from __future__ import annotations

from datetime import timedelta

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import repository as digest_repo
from papertrend.digest import subscriptions as subs
from papertrend.digest.tables import subscriptions
from papertrend.library import service as library
from papertrend.web.app import create_app
from papertrend.web.cookies import SUBSCRIBED_COOKIE
from tests.digest_support import make_app
from tests.integration.library_support import sign_in
from tests.integration.mail_support import NOW, TYPED, Clock, confirmed, fields, inbox, link
from tests.integration.web_support import Web, page, parse_html

EMAIL = "reader@example.org"
PATH = "/account/email"


@pytest.fixture
def web(settings: Settings, engine: Engine) -> Web:
    return Web(make_app(settings, engine, clock=Clock(NOW)))


def own(engine: Engine, email: str = EMAIL) -> subs.Subscription | None:
    with reading(engine) as conn:
        return subs.get_by_email(conn=conn, email=email)


def banner_asks_for_address(html: str) -> bool:
    return 'id="subscribe-email"' in html


def test_signed_out_readers_are_sent_to_sign_in_and_back(web: Web) -> None:
    response = web.get(PATH)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Faccount%2Femail"
    assert web.post(PATH, data={"topics": "x"}).status_code == 403  # no CSRF token: refused first


def test_subscribe_from_your_email_without_a_confirmation_mail(
    web: Web, engine: Engine, settings: Settings
) -> None:
    sign_in(web, engine, EMAIL)
    home = web.get("/").text
    # Signed in but not subscribed: the banner links to "Your email" instead of asking the address.
    assert not banner_asks_for_address(home)
    assert 'href="/account/email"' in home
    shown = page(web, PATH)
    assert "not subscribed" in shown.text and EMAIL in shown.text
    assert any(f.get("action") == PATH and f.get("method") == "post" for f in shown.forms)
    response = web.submit(PATH, data={**TYPED, "timezone": "Europe/Paris", "library": "on"})
    assert response.status_code == 303 and response.headers["location"] == f"{PATH}?done=subscribed"
    sub = own(engine)
    assert sub is not None and sub.status == "confirmed"
    assert sub.consent == subs.CONSENT_SIGNED_IN and sub.confirmed_at == NOW
    assert sub.prefs.topics == ("LLM agents that simulate people", "diffusion for video")
    assert sub.prefs.cadence == "weekly" and sub.prefs.send_hour == 7 and sub.prefs.timezone == "Europe/Paris"
    assert sub.prefs.use_library
    assert inbox(settings) == []  # the sign-in link already proved the address: no mail
    after = web.get(f"{PATH}?done=subscribed").text
    assert "You are subscribed" in after
    assert not banner_asks_for_address(after) and 'class="subscribe"' not in after
    assert 'class="subscribe"' not in web.get("/").text


def test_change_cadence_topics_and_library_then_unsubscribe(web: Web, engine: Engine) -> None:
    sign_in(web, engine, EMAIL)
    web.submit(PATH, data={"topics": "graph neural networks", "timezone": "UTC"})
    response = web.submit(
        PATH,
        data={
            "topics": "protein folding\r\nspeech recognition",
            "cadence": "weekly",
            "send_weekday": "2",
            "send_hour": "18",
            "timezone": "Asia/Tokyo",
            "library": "off",
            "categories": "q-bio.BM",
        },
    )
    assert response.status_code == 303 and response.headers["location"] == f"{PATH}?done=saved"
    sub = own(engine)
    assert sub is not None
    assert sub.prefs.topics == ("protein folding", "speech recognition")
    assert (sub.prefs.cadence, sub.prefs.send_weekday, sub.prefs.send_hour) == ("weekly", 2, 18)
    assert sub.prefs.timezone == "Asia/Tokyo" and sub.prefs.categories == ("q-bio.BM",)
    assert not sub.prefs.use_library and not sub.prefs.paused
    shown = web.get(PATH).text
    assert fields(shown)["library"] == "checked" and 'value="off" checked' in shown
    # Pause, then leave.
    web.submit(PATH, data={"topics": "protein folding", "paused": "1", "library": "off"})
    paused = own(engine)
    assert paused is not None and paused.prefs.paused
    left = web.submit(f"{PATH}/unsubscribe", page=PATH)
    assert left.status_code == 303 and left.headers["location"] == f"{PATH}?done=left"
    assert SUBSCRIBED_COOKIE not in web.cookies
    gone = own(engine)
    assert gone is not None and gone.status == "unsubscribed"
    # Not subscribed any more: the banner offers "Your email" again, and subscribing works again.
    assert 'href="/account/email"' in web.get("/").text
    assert web.submit(PATH, data={"topics": "again"}).headers["location"] == f"{PATH}?done=subscribed"
    back = own(engine)
    assert back is not None and back.status == "confirmed" and back.id == gone.id


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone we know"),
        ({"categories": "not a category!"}, "categories", "is not an arXiv category"),
    ],
)
def test_an_error_keeps_everything_typed_and_saves_nothing(
    web: Web, engine: Engine, change: dict[str, str], field: str, message: str
) -> None:
    sign_in(web, engine, EMAIL)
    response = web.submit(PATH, data={**TYPED, "timezone": "Europe/Paris", "library": "off", **change})
    assert response.status_code == 400
    html = parse_html(response.text)
    assert message in html.text
    assert f'id="{field}-error"' in response.text and 'aria-invalid="true"' in response.text
    kept = fields(response.text)
    assert kept["include"] == TYPED["include"] and kept["exclude"] == TYPED["exclude"]
    assert kept["cadence"] == "checked" and 'value="weekly" checked' in response.text
    assert 'value="off" checked' in response.text
    assert "LLM agents that simulate people" in response.text
    assert own(engine) is None  # nothing saved


def test_a_pending_subscription_is_confirmed_by_the_signed_in_owner(
    web: Web, engine: Engine, settings: Settings
) -> None:
    # Someone (perhaps the reader) typed the address into the banner: a confirmation mail went out.
    stranger = Web(web.app)
    stranger.submit("/subscribe", data={"email": EMAIL, "topics": "typed in the banner"})
    pending = own(engine)
    assert pending is not None and pending.status == "pending"
    assert pending.prefs.use_library  # the banner posts no switch: on, the default
    confirm_path = link(inbox(settings)[-1][2], "/subscribe/confirm/")
    sign_in(web, engine, EMAIL)
    assert "typed in the banner" in web.get(PATH).text  # what was typed is shown to its owner
    web.submit(PATH, data={"topics": "my own topic"})
    sub = own(engine)
    assert sub is not None and sub.status == "confirmed" and sub.id == pending.id
    assert sub.consent == subs.CONSENT_SIGNED_IN and sub.prefs.topics == ("my own topic",)
    # The mailed link has nothing left to confirm.
    assert stranger.submit(confirm_path).status_code == 404


def test_a_bounced_address_is_said_and_never_subscribed(web: Web, engine: Engine) -> None:
    sign_in(web, engine, EMAIL)
    web.submit(PATH, data={"topics": "x"})
    sub = own(engine)
    assert sub is not None
    with transaction(engine) as conn:
        subs.suppress(conn=conn, subscription_id=sub.id, reason="bounce", detail="550", now=NOW)
    shown = web.get(PATH)
    assert shown.status_code == 200 and "bounced" in shown.text
    assert not any(f.get("action") == PATH for f in parse_html(shown.text).forms)
    refused = web.submit(PATH, data={"topics": "y"}, page="/account/email")
    assert refused.status_code == 400 and "bounced" in refused.text
    still = own(engine)
    assert still is not None and still.status == "bounced"


def test_follow_and_unfollow_authors_from_your_email(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine, EMAIL)
    assert web.submit(f"{PATH}/authors", data={"follow": "Ada Lovelace"}, page=PATH).status_code == 303
    with reading(engine) as conn:
        assert library.followed_authors(conn=conn, user_id=uid) == ["Ada Lovelace"]
    shown = web.get(PATH).text
    assert 'href="/authors/Ada%20Lovelace"' in shown
    bad = web.submit(f"{PATH}/authors", data={"follow": "<script>x</script>"}, page=PATH)
    assert bad.status_code == 400 and 'id="follow-error"' in bad.text and "<script>x" not in bad.text
    assert web.submit(f"{PATH}/authors", data={"unfollow": "ada lovelace"}, page=PATH).status_code == 303
    with reading(engine) as conn:
        assert library.followed_authors(conn=conn, user_id=uid) == []


def test_the_mailed_link_flow_marks_the_browser_and_the_banner_stops_asking(
    web: Web, settings: Settings, engine: Engine
) -> None:
    assert banner_asks_for_address(web.get("/").text)
    prefs_path = confirmed(web, settings, "anon@example.org")
    assert web.cookies.get(SUBSCRIBED_COOKIE) == "1"
    assert 'class="subscribe"' not in web.get("/").text
    # Another browser, or this one after losing its cookies, opens the mailed preferences link.
    other = Web(web.app)
    assert banner_asks_for_address(other.get("/").text)
    other.get(prefs_path)
    assert not banner_asks_for_address(other.get("/").text)
    # Unsubscribing in this browser brings the banner back.
    sub = own(engine, "anon@example.org")
    assert sub is not None
    token = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="unsubscribe")
    assert web.submit(f"/unsubscribe/{token}").status_code == 200
    assert banner_asks_for_address(web.get("/").text)


def test_the_page_cache_keeps_a_page_per_banner_never_one_visitors(
    settings: Settings, engine: Engine
) -> None:
    app = create_app(settings.model_copy(update={"page_cache_seconds": 30}), engine=engine, clock=Clock(NOW))
    plain, subscribed, odd = Web(app), Web(app), Web(app)
    subscribed.cookies.set(SUBSCRIBED_COOKIE, "1")
    odd.cookies.set(SUBSCRIBED_COOKIE, "12")  # no mark: the banner asks, whatever is cached
    for _ in range(2):  # the second round comes from the cache
        assert not banner_asks_for_address(subscribed.get("/").text)
        assert banner_asks_for_address(odd.get("/").text)
        assert banner_asks_for_address(plain.get("/").text)


def test_a_signed_in_subscriber_gets_no_banner_on_any_page(web: Web, engine: Engine) -> None:
    sign_in(web, engine, EMAIL)
    web.submit(PATH, data={"topics": "x"})
    web.cookies.delete(SUBSCRIBED_COOKIE)  # another browser of theirs: the account decides
    for path in ("/", "/papers/trending", "/search?q=agents", "/library", "/for-you", PATH):
        body = web.get(path).text
        assert 'class="subscribe"' not in body, path
        assert 'href="/account/email"' in body, path  # "Your email" in the header


def test_the_library_switch_is_stored_for_existing_rows_as_on(engine: Engine) -> None:
    # Rows from before migration 0014 read as "on": the column's server default.
    with transaction(engine) as conn:
        sub_id = digest_repo.add_subscription(
            conn=conn,
            values={
                "email": "old@example.org",
                "email_key": "old@example.org",
                "status": "confirmed",
                "topics": [],
                "include_keywords": [],
                "exclude_keywords": [],
                "categories": [],
                "link_salt": "s" * 32,
                "created_at": NOW - timedelta(days=9),
                "updated_at": NOW - timedelta(days=9),
            },
        )
    with reading(engine) as conn:
        row = conn.execute(sa.select(subscriptions.c.use_library, subscriptions.c.consent)).one()
        sub = subs.get(conn=conn, subscription_id=sub_id)
    assert row.use_library is True and row.consent is None
    assert sub is not None and sub.prefs.use_library


def test_the_mailed_preferences_page_has_the_library_switch_too(
    web: Web, engine: Engine, settings: Settings
) -> None:
    prefs_path = confirmed(web, settings, "anon@example.org")
    assert 'name="library" value="on" checked' in web.get(prefs_path).text
    assert web.submit(prefs_path, data={"topics": "x", "library": "off"}).status_code == 303
    sub = own(engine, "anon@example.org")
    assert sub is not None and not sub.prefs.use_library and sub.consent == subs.CONSENT_DOUBLE_OPT_IN
    assert 'name="library" value="off" checked' in web.get(prefs_path).text


def test_an_account_address_that_todays_rules_refuse_gets_a_message_not_a_5xx(
    web: Web, engine: Engine
) -> None:
    # Signed in before the address rules of #12: the page shows, subscribing is refused, saying why.
    sign_in(web, engine, "üser@example.org")
    assert web.get(PATH).status_code == 200
    refused = web.submit(PATH, data={"topics": "x"})
    assert refused.status_code == 400 and "@" in refused.text
    assert own(engine, "üser@example.org") is None


FIELDS = ("topics", "include", "exclude", "categories", "cadence", "send_hour", "send_weekday", "timezone")


@hypothesis.settings(
    max_examples=25, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from([*FIELDS, "paused", "library", "follow", "unfollow", "done"]),
    value=st.one_of(st.text(max_size=300), st.sampled_from(["\x00", "<b>x</b>", "x" * 10_240, "-1", "99"])),
)
# Found on PostgreSQL by the fresh-clone suite: unfollowing a name with a NUL reached the database.
@hypothesis.example(field="unfollow", value="\x00")
def test_any_value_of_any_field_is_never_a_5xx(web: Web, engine: Engine, field: str, value: str) -> None:
    sign_in(web, engine, EMAIL)
    token = web.csrf(PATH)
    for url in (PATH, f"{PATH}/authors", f"{PATH}/unsubscribe"):
        response = web.post(url, data={field: value, "csrf_token": token})
        assert response.status_code < 500, (url, field, value, response.text[:300])
    assert web.get(PATH, params={field: value}).status_code < 500


def test_the_full_subscribe_form_points_a_signed_in_reader_to_your_email(web: Web, engine: Engine) -> None:
    assert 'href="/account/email"' not in web.get("/subscribe").text
    sign_in(web, engine, EMAIL)
    shown = web.get("/subscribe").text
    assert 'href="/account/email">subscribe that address on Your email' in shown
