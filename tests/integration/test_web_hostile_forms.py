"""Any text in any field or path segment of any form a reader posts is a page, a redirect or a clear
4xx, never a 5xx (issues #13, #14): library, "not interested", follow, upvote, sign-in, subscribe and
preference forms, signed in and signed out, on both databases.

The GET addresses have their own test (test_web_hostile_addresses.py), and "Your email" its own
(test_web_account_email.py); this one posts every other form with a valid CSRF token, so the value
reaches the route itself rather than the CSRF check.
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
from papertrend.db import reading
from papertrend.library import service
from tests.integration.library_support import library_web, sign_in
from tests.integration.web_support import TOP_ID, Web

# (address, the form's fields); {v} is the hostile value in the path, {c} the reader's collection.
FORMS = (
    ("/papers/{v}/save", ("collection", "next")),
    (f"/papers/{TOP_ID}/save", ("collection", "next")),
    ("/papers/{v}/upvote", ("vote", "next")),
    (f"/papers/{TOP_ID}/upvote", ("vote", "next")),
    ("/papers/{v}/not-interested", ("undo", "next")),
    (f"/papers/{TOP_ID}/not-interested", ("undo", "next")),
    ("/authors/{v}/follow", ("follow",)),
    ("/library/collections", ("name",)),
    ("/library/{c}/rename", ("name",)),
    ("/library/{c}/share", ("public",)),
    ("/library/{c}/remove", ("paper",)),
    ("/library/{c}/move", ("paper", "to")),
    ("/library/import", ("text", "collection")),
    ("/not-interested/{v}/{v}", ()),
    ("/login", ("email", "next")),
    ("/login/{v}", ()),
    ("/subscribe", ("email", "topics", "exclude", "categories", "timezone", "send_hour", "cadence")),
    ("/subscribe/confirm/{v}", ()),
    ("/unsubscribe/{v}", ()),
    ("/preferences/{v}", ("topics", "timezone", "send_hour")),
    ("/logout", ("next",)),
)
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["\x00", "x" * 10_240, "<b>x</b>", "../../etc/passwd", "2401.00001v99", "%", "'; --", "\u202e", "-1"]
    ),
)


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    return library_web(settings, engine, fixture_data, tmp_path)


def _saved_collection(engine: Engine, user_id: int) -> int:
    with reading(engine) as conn:
        return service.collections(conn=conn, user_id=user_id)[0].id


@hypothesis.settings(max_examples=20, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@given(value=TEXT, signed_in=st.booleans(), raw=st.sampled_from(["", "%00", "%FF%FE", "%2F"]))
def test_any_value_in_any_posted_form_is_never_a_5xx(
    web: Web, engine: Engine, value: str, signed_in: bool, raw: str
) -> None:
    web.cookies.clear()
    collection = 0
    if signed_in:
        uid = sign_in(web, engine)
        web.submit(f"/papers/{TOP_ID}/save", {"next": "/"}, page="/")
        collection = _saved_collection(engine, uid)
    token = web.csrf("/")
    in_path = quote(value, safe="") + raw
    for address, fields in FORMS:
        url = address.format(v=in_path, c=collection)
        for field in fields or ("csrf_token",):
            data = {field: value, "csrf_token": token} if field != "csrf_token" else {"csrf_token": token}
            response = web.post(url, data=data)
            assert response.status_code < 500, (url, field, value, response.text[:300])
    if signed_in:  # and nothing is lost: the saved paper is still in the reader's library
        with reading(engine) as conn:
            held = [
                e.paper_id
                for c in service.collections(conn=conn, user_id=uid)
                for e in service.entries(conn=conn, user_id=uid, collection_id=c.id)
            ]
        assert TOP_ID in held, (value, held)
