"""Subscribe by address, confirm, unsubscribe (issue #5): the digest's double opt-in on the web.

- `POST /subscribe` answers the same page whatever the address (no enumeration); the mail that goes
  out differs (digest/subscriptions.py). Rate limits per IP and per address live in the database.
- Links from mail show a page on GET and act only on POST, so scanners that prefetch links change
  nothing (DESIGN §6.10). The unsubscribe URL also takes RFC 8058's one-click POST
  (`List-Unsubscribe=One-Click`) from mail clients, which carry no cookie: for that body alone the
  signed token in the URL is the credential and no CSRF token is asked for. Every form posted from
  a page carries the page's CSRF token (web/cookies.py, issue #4).
- Confirming marks the browser as subscribed and unsubscribing here forgets it, so the banner stops
  asking a subscriber for their address (#13, web/banner.py).

The preferences page of the mailed link is web/preferences.py; a signed-in reader's own page is
web/account_email.py; the local mailbox is web/mailbox.py.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import NoReturn

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from papertrend import ratelimit
from papertrend.db import reading, transaction
from papertrend.digest import digest_settings
from papertrend.digest import subscriptions as subs
from papertrend.digest.render import render_already, render_confirmation
from papertrend.errors import BadRequest, NotFound, TooManyRequests
from papertrend.mail.factory import send_now
from papertrend.mail.message import mail_context
from papertrend.web.cookies import forget_subscribed, mark_subscribed, require_csrf_unless_one_click
from papertrend.web.deps import CSRF, StateDep
from papertrend.web.errors import wants_json
from papertrend.web.mailbox import mailbox_enabled
from papertrend.web.preferences import managed
from papertrend.web.prefs_form import FormText, PrefsForm, form_context, typed_context
from papertrend.web.templating import render

log = logging.getLogger("papertrend.web.subscribe")

router = APIRouter(include_in_schema=False)

# Both forms count per hour (papertrend.ratelimit), so after an hour trying again surely works.
RETRY_AFTER_S = 3600


def client_ip(request: Request) -> str:
    """The client's address as the server saw it (uvicorn applies X-Forwarded-For from trusted proxies)."""
    return request.client.host if request.client else "unknown"


# ----------------------------------------------------------------------------------------- subscribe


@router.get("/subscribe", response_class=HTMLResponse)
def subscribe_page(request: Request, email: str = "") -> HTMLResponse:
    """The full subscription form."""
    return render(
        request,
        "subscribe_form.html",
        form_context(subs.Preferences(), title="Subscribe", email=email[:254], error=None, guess_zone=True),
    )


@router.post("/subscribe", response_class=HTMLResponse, dependencies=[CSRF])
def subscribe_post(
    request: Request,
    state: StateDep,
    raw: PrefsForm,
    email: FormText = "",
) -> Response:
    """Start double opt-in; the same answer whether or not the address is known."""
    settings = state.settings
    ds = digest_settings(settings)
    now = state.clock()
    hour = timedelta(hours=1)
    with transaction(state.engine) as conn:
        # Counted before validation, so junk posts from one address use up its allowance too.
        ip_ok = ratelimit.allow(
            conn=conn,
            key=ratelimit.rate_key("ip", client_ip(request)),
            limit=ds.subscribe_per_ip_per_hour,
            window=hour,
            now=now,
        )
    if not ip_ok:
        return _too_many(request)
    try:
        address, key = subs.normalize_email(email)
        prefs = subs.parse_preferences(raw)
    except BadRequest as exc:
        if wants_json(request):
            return JSONResponse({"error": {"status": 400, "message": exc.message}}, status_code=400)
        context = typed_context(raw, exc, title="Subscribe", email=email[:254])
        if not isinstance(exc, subs.PreferenceError):
            context["error_field"] = "email"
        return render(request, "subscribe_form.html", context, status=400)
    with transaction(state.engine) as conn:
        addr_ok = ratelimit.allow(
            conn=conn,
            key=ratelimit.rate_key("addr", key),  # the normalised form (#12)
            limit=ds.subscribe_per_address_per_hour,
            window=hour,
            now=now,
        )
        result = subs.subscribe(conn=conn, email=address, prefs=prefs, now=now) if addr_ok else None
        already = (
            subs.get(conn=conn, subscription_id=result.subscription_id)
            if result is not None and result.action == "already" and result.subscription_id is not None
            else None
        )
    if result is None:
        return _too_many(request)
    ctx = mail_context(settings)
    if result.action == "confirm" and result.token is not None:
        message = render_confirmation(
            ctx=ctx, to=result.email, token=result.token, days=subs.PENDING_DAYS, now=now
        )
        # Sent before the page answers, so a failure is said, not just logged (#12).
        send_now(settings=settings, message=message)
    elif already is not None:
        send_now(settings=settings, message=render_already(ctx=ctx, sub=already, now=now))
    else:
        log.info("subscribe.suppressed_address: no mail sent")
    if wants_json(request):
        return JSONResponse({"status": "check-your-inbox", "email": address})
    return render(
        request,
        "subscribe_sent.html",
        {"title": "Check your inbox", "email": address, "mailbox": mailbox_enabled(settings)},
    )


def _too_many(request: Request) -> NoReturn:
    """429 with Retry-After, as a page or JSON like every other error (web/errors.py)."""
    raise TooManyRequests(
        "Too many subscription attempts. Please try again in an hour.", retry_after_s=RETRY_AFTER_S
    )


@router.get("/subscribe/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, state: StateDep, token: str) -> HTMLResponse:
    """Show a Confirm button; a GET confirms nothing (mail scanners prefetch links)."""
    with reading(state.engine) as conn:
        sub = subs.peek_confirmation(conn=conn, token=token[:200], now=state.clock())
    if sub is None:
        raise NotFound("This confirmation link is invalid or has expired. Subscribe again to get a new one.")
    return render(
        request,
        "subscribe_message.html",
        {
            "title": "Confirm your subscription",
            "heading": "Confirm your subscription",
            "message": f"Press the button to start receiving trending papers at {sub.email}.",
            "action": {"url": f"/subscribe/confirm/{token}", "label": "Confirm", "field": None},
        },
    )


@router.post("/subscribe/confirm/{token}", dependencies=[CSRF])
def confirm_post(request: Request, state: StateDep, token: str) -> Response:
    """Confirm, then go to the preferences page to pick topics."""
    with transaction(state.engine) as conn:
        sub = subs.confirm(conn=conn, token=token[:200], now=state.clock())
    if sub is None:
        raise NotFound("This confirmation link is invalid or has expired. Subscribe again to get a new one.")
    manage = subs.link_token(secret=state.settings.secret_key, subscription=sub, purpose="manage")
    response = RedirectResponse(f"/preferences/{manage}?welcome=1", status_code=303)
    mark_subscribed(request, response)
    return response


# --------------------------------------------------------------------------------------- unsubscribe


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, state: StateDep, token: str) -> HTMLResponse:
    """One button; a GET unsubscribes nobody."""
    sub = managed(state, token, "unsubscribe")
    if sub.status != "confirmed" and sub.status != "pending":
        return _unsubscribed(request, sub)
    return render(
        request,
        "subscribe_message.html",
        {
            "title": "Unsubscribe",
            "heading": "Unsubscribe",
            "message": f"Stop sending Papertrend emails to {sub.email}?",
            # The button posts the page's CSRF token; only a mail client's RFC 8058 one-click body
            # (`List-Unsubscribe=One-Click`, no cookie) goes without one (issue #4).
            "action": {"url": f"/unsubscribe/{token}", "label": "Unsubscribe", "field": None},
        },
    )


@router.post(
    "/unsubscribe/{token}", response_class=HTMLResponse, dependencies=[Depends(require_csrf_unless_one_click)]
)
def unsubscribe_post(request: Request, state: StateDep, token: str) -> HTMLResponse:
    """Unsubscribe at once: the button, or a mail client's RFC 8058 one-click POST."""
    sub = managed(state, token, "unsubscribe")
    with transaction(state.engine) as conn:
        subs.unsubscribe(conn=conn, subscription_id=sub.id, now=state.clock())
    log.info("subscribe.unsubscribed", extra={"subscription": sub.id})
    response = _unsubscribed(request, sub)
    forget_subscribed(request, response)
    return response


def _unsubscribed(request: Request, sub: subs.Subscription) -> HTMLResponse:
    return render(
        request,
        "subscribe_message.html",
        {
            "title": "Unsubscribed",
            "heading": "You are unsubscribed",
            "message": f"No more Papertrend emails will go to {sub.email}. Changed your mind? "
            "Subscribe again.",
            "action": None,
        },
    )
