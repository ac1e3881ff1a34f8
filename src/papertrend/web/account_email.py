""" "Your email": a signed-in reader manages the digest of their own address (issue #13, item 1).

One person, one account: the subscription shown is the one of the signed-in user's address, found
by its normalised key (digest/subscriptions.py). The page shows the same fields as the preferences
page of the mailed link (web/prefs_form.py, templates/subscribe_fields.html), the authors they follow
(library/service.py), pause, and unsubscribe.

A reader with no active subscription subscribes here without a confirmation mail: the session was
started by a sign-in link mailed to this very address, which is what double opt-in proves
(`subscriptions.subscribe_signed_in`, docs/email.md). The press of Subscribe is recorded as consent.
Subscribing by address alone, without signing in, still goes through double opt-in (web/subscribe.py).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from papertrend.accounts.repository import User
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.errors import BadRequest
from papertrend.library import service as library
from papertrend.web.cookies import current_user, forget_subscribed, mark_subscribed
from papertrend.web.deps import CSRF, StateDep
from papertrend.web.prefs_form import PrefsForm, form_context, typed_context
from papertrend.web.templating import query_url, render

log = logging.getLogger("papertrend.web.account_email")

router = APIRouter(include_in_schema=False)

PATH = "/account/email"
AuthorF = Annotated[str, Form(max_length=2_000)]
NOTICES = {
    "saved": "Saved. Changes apply from the next email.",
    "subscribed": "You are subscribed. The first email comes at the hour you chose.",
    "left": "You are unsubscribed: no more Papertrend emails will go to this address.",
    "followed": "Followed. Their new papers reach “For you” and your email.",
    "unfollowed": "You no longer follow that author.",
}


def _to_login() -> RedirectResponse:
    return RedirectResponse(query_url("/login", next=PATH), status_code=303)


def _state_of(conn: Connection, user: User) -> tuple[subs.Subscription | None, bool, list[str]]:
    """The reader's subscription, whether their address bounced, and the authors they follow."""
    sub = subs.get_by_email(conn=conn, email=user.email)
    if sub is not None:
        key = sub.email_key
    else:
        try:
            key = subs.normalize_email(user.email).key
        except subs.InvalidEmail:  # signed in before today's address rules: found by its spelling
            key = user.email.strip().lower()
    bounced = (sub is not None and sub.status == "bounced") or subs.is_suppressed(conn=conn, email_key=key)
    return sub, bounced, library.followed_authors(conn=conn, user_id=user.id)


def _page(
    request: Request,
    state: StateDep,
    user: User,
    *,
    context: dict[str, Any] | None = None,
    notice: str | None = None,
    status: int = 200,
) -> HTMLResponse:
    with reading(state.engine) as conn:
        sub, bounced, authors = _state_of(conn, user)
    active = sub is not None and sub.status == "confirmed"
    # A pending subscription (the address typed into the banner) starts from what was typed.
    shown = form_context(
        sub.prefs if sub is not None and sub.status in ("confirmed", "pending") else subs.Preferences()
    )
    if sub is None or sub.status != "confirmed":
        shown["guess_zone"] = True
    base = {
        "title": "Your email",
        "email": user.email,
        "sub": sub,
        "active": active,
        "bounced": bounced,
        "authors": authors,
        "notice": NOTICES.get(notice or ""),
        "error": None,
        "author_error": None,
        "author_typed": "",
    }
    response = render(request, "account_email.html", {**shown, **base, **(context or {})}, status=status)
    if active:
        mark_subscribed(request, response)
    return response


@router.get(PATH, response_class=HTMLResponse)
def account_email_page(request: Request, state: StateDep, done: str = "") -> Response:
    """The signed-in reader's digest: subscribe, or change, pause and leave it."""
    user = current_user(request)
    if user is None:
        return _to_login()
    return _page(request, state, user, notice=done[:20])


@router.post(PATH, response_class=HTMLResponse, dependencies=[CSRF])
def account_email_post(request: Request, state: StateDep, raw: PrefsForm) -> Response:
    """Save the preferences, or subscribe the reader's own address with them (no confirmation mail)."""
    user = current_user(request)
    if user is None:
        return _to_login()
    try:
        prefs = subs.parse_preferences(raw)
    except BadRequest as exc:
        return _page(request, state, user, context=typed_context(raw, exc), status=400)
    now = state.clock()
    with transaction(state.engine) as conn:
        sub = subs.get_by_email(conn=conn, email=user.email)
        if sub is not None and sub.status == "confirmed":
            subs.update_preferences(conn=conn, subscription_id=sub.id, prefs=prefs, now=now)
            done = "saved"
        else:
            # No confirmation mail: this session began with a link mailed to this address (module doc).
            made = subs.subscribe_signed_in(conn=conn, email=user.email, prefs=prefs, now=now)
            if made is None:
                bounced = BadRequest(f"Mail to {user.email} bounced, so Papertrend cannot send to it.")
                return _page(request, state, user, context=typed_context(raw, bounced), status=400)
            log.info("subscribe.signed_in", extra={"subscription": made.id, "user": user.id})
            done = "subscribed"
    response = RedirectResponse(f"{PATH}?done={done}", status_code=303)
    mark_subscribed(request, response)
    return response


@router.post(PATH + "/unsubscribe", dependencies=[CSRF])
def account_email_unsubscribe(request: Request, state: StateDep) -> Response:
    """Stop the emails to the reader's address at once."""
    user = current_user(request)
    if user is None:
        return _to_login()
    with transaction(state.engine) as conn:
        sub = subs.get_by_email(conn=conn, email=user.email)
        if sub is not None:
            subs.unsubscribe(conn=conn, subscription_id=sub.id, now=state.clock())
    if sub is not None:
        log.info("subscribe.unsubscribed", extra={"subscription": sub.id})
    response = RedirectResponse(f"{PATH}?done=left", status_code=303)
    forget_subscribed(request, response)
    return response


@router.post(PATH + "/authors", response_class=HTMLResponse, dependencies=[CSRF])
def account_email_authors(
    request: Request, state: StateDep, follow: AuthorF = "", unfollow: AuthorF = ""
) -> Response:
    """Follow an author by name, or stop following one (library/service.py holds the rules)."""
    user = current_user(request)
    if user is None:
        return _to_login()
    now = state.clock()
    try:
        with transaction(state.engine) as conn:
            if unfollow.strip():
                library.unfollow(conn=conn, user_id=user.id, name=unfollow)
                done = "unfollowed"
            else:
                library.follow(conn=conn, user_id=user.id, name=follow, now=now)
                done = "followed"
    except BadRequest as exc:
        context = {"author_error": exc.message, "author_typed": follow[:200]}
        return _page(request, state, user, context=context, status=400)
    return RedirectResponse(f"{PATH}?done={done}#authors", status_code=303)
