"""The preferences page of a signed link from mail (issue #5): `/preferences/{token}`.

The token (digest/subscriptions.py `link_token`) is the credential: no sign-in needed. A signed-in
reader manages the same subscription on "Your email" (web/account_email.py); both post the fields of
web/prefs_form.py. Opening the page marks the browser as subscribed, so the banner stops asking (#13).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.errors import BadRequest, NotFound
from papertrend.web.cookies import mark_subscribed
from papertrend.web.deps import CSRF, StateDep
from papertrend.web.prefs_form import PrefsForm, form_context, typed_context
from papertrend.web.templating import render

router = APIRouter(include_in_schema=False)


def managed(state: StateDep, token: str, purpose: subs.LinkPurpose) -> subs.Subscription:
    """The subscription a signed link from mail names; 404 for a forged or cut-short one."""
    with reading(state.engine) as conn:
        sub = subs.verify_link(
            conn=conn, secret=state.settings.secret_key, token=token[:200], purpose=purpose
        )
    if sub is None:
        raise NotFound("This link is not valid. Use the link in your latest Papertrend email.")
    return sub


@router.get("/preferences/{token}", response_class=HTMLResponse)
def preferences_page(
    request: Request, state: StateDep, token: str, welcome: int = 0, saved: int = 0
) -> HTMLResponse:
    """Edit topics, filters, cadence, hour and time zone, or pause."""
    sub = managed(state, token, "manage")
    response = render(
        request,
        "subscribe_preferences.html",
        form_context(
            sub.prefs,
            title="Your subscription",
            sub=sub,
            token=token,
            welcome=bool(welcome),
            saved=bool(saved),
            error=None,
        ),
    )
    if sub.status == "confirmed":
        mark_subscribed(request, response)
    return response


@router.post("/preferences/{token}", response_class=HTMLResponse, dependencies=[CSRF])
def preferences_post(
    request: Request,
    state: StateDep,
    token: str,
    raw: PrefsForm,
) -> Response:
    """Save preferences (a confirmed subscription only)."""
    sub = managed(state, token, "manage")
    if sub.status != "confirmed":
        raise BadRequest("This subscription is not active; subscribe again to change it.")
    try:
        prefs = subs.parse_preferences(raw)
    except BadRequest as exc:
        context = typed_context(
            raw, exc, title="Your subscription", sub=sub, token=token, welcome=False, saved=False
        )
        return render(request, "subscribe_preferences.html", context, status=400)
    with transaction(state.engine) as conn:
        subs.update_preferences(conn=conn, subscription_id=sub.id, prefs=prefs, now=state.clock())
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)
