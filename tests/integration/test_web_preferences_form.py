"""The preferences form keeps what was typed and shows an error next to its field (#13); the time
zone is a list (every zone Python knows), which a new subscription starts at the browser's zone."""

from __future__ import annotations

from zoneinfo import available_timezones

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest import subscriptions as subs
from tests.digest_support import make_app
from tests.integration.mail_support import NOW, TYPED, Clock, confirmed, fields
from tests.integration.web_support import Web, page, parse_html


@pytest.fixture
def web(settings: Settings, engine: Engine) -> Web:
    return Web(make_app(settings, engine, clock=Clock(NOW)))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone", "not a time zone we know"),
        ({"categories": "not a category!"}, "categories", "is not an arXiv category"),
        ({"topics": "\n".join(f"topic {n}" for n in range(7))}, "topics", "At most 5 topics"),
    ],
)
def test_an_error_keeps_everything_typed_and_sits_next_to_its_field(
    web: Web, engine: Engine, settings: Settings, change: dict[str, str], field: str, message: str
) -> None:
    prefs_path = confirmed(web, settings, "pat@example.org")
    data = {**TYPED, "timezone": "Europe/Paris", **change}
    response = web.submit(prefs_path, data=data)
    assert response.status_code == 400
    body = response.text
    html = parse_html(body)
    # The error is an error (not the green "Saved" notice), and it is next to the field it is about.
    assert "Nothing was saved" in html.text and message in html.text
    assert 'class="notice"' not in body
    assert f'id="{field}-error"' in body and f'aria-describedby="{field}-error"' in body
    # Everything typed is still there.
    if field != "topics":
        assert "LLM agents that simulate people\ndiffusion for video" in body.replace("\r\n", "\n")
    if field != "categories":
        assert fields(body)["categories"] == "cs.CL, cs.AI"
    assert fields(body)["include"] == "agent, simulation" and fields(body)["exclude"] == "survey, benchmark"
    assert '<option value="7" selected>' in body and '<option value="4" selected>' in body
    assert 'value="weekly" checked' in body
    zone = data["timezone"]
    assert f'<option value="{zone}" selected>' in body
    # Nothing changed in the stored subscription.
    with reading(engine) as conn:
        sub = subs.get_by_email(conn=conn, email="pat@example.org")
    assert sub is not None and sub.prefs == subs.Preferences()


def test_the_time_zone_is_a_list_of_every_zone(web: Web) -> None:
    body = web.get("/subscribe").text
    html = parse_html(body)
    [select] = [i for i in html.inputs if i.get("name") == "timezone"]
    assert select["tag"] == "select" and select.get("data-browser-zone") == "1"
    for zone in ("UTC", "Europe/Paris", "America/Argentina/Buenos_Aires", "Pacific/Chatham"):
        assert zone in available_timezones() and f'<option value="{zone}"' in body
    assert '<option value="UTC" selected>' in body


def test_subscribe_form_errors_keep_the_address_and_topics(web: Web) -> None:
    response = web.submit(
        "/subscribe", data={"email": "a@example.org", "topics": "agents", "timezone": "Nowhere/City"}
    )
    assert response.status_code == 400
    assert fields(response.text)["email"] == "a@example.org" and ">agents</textarea>" in response.text
    assert 'id="timezone-error"' in response.text
    bad_address = web.submit("/subscribe", data={"email": "not an address", "topics": "agents"})
    assert bad_address.status_code == 400 and ">agents</textarea>" in bad_address.text
    assert 'aria-invalid="true"' in bad_address.text
    assert page(web, "/subscribe")
