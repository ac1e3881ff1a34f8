"""Sign-in pages: ask for a link, open it, press Sign in; and sign out (issue #4, part 2).

- `POST /login` answers the same page whether or not the address has an account (no enumeration);
  rate limits per IP and per address reuse papertrend.ratelimit, like the subscribe form.
- `GET /login/{token}` shows a "Sign in" button and changes nothing, so mail scanners that prefetch
  links sign nobody in (DESIGN §6.10); `POST /login/{token}` consumes the token and starts a session.
- Every POST here carries the CSRF token (web/cookies.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated, NoReturn

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from papertrend.accounts import service
from papertrend.accounts.mail import render_sign_in
from papertrend.accounts.repository import StoredToken
from papertrend.accounts.tokens import TokenState, safe_next
from papertrend.db import reading, transaction
from papertrend.errors import BadRequest, TooManyRequests
from papertrend.mail.factory import send_now
from papertrend.mail.message import mail_context
from papertrend.web.cookies import SESSION_COOKIE, clear_cookie, current_user, start_session
from papertrend.web.deps import CSRF, StateDep, get_state
from papertrend.web.errors import wants_json
from papertrend.web.mailbox import mailbox_enabled
from papertrend.web.subscribe import client_ip
from papertrend.web.templating import render

log = logging.getLogger("papertrend.web.accounts")

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]
NextForm = Annotated[str, Form(alias="next")]
TOO_MANY = "Too many sign-in attempts. Please try again in an hour."
# The limits count per hour (papertrend.ratelimit), so an hour is when trying again surely works.
RETRY_AFTER_S = 3600


def _login_form(
    request: Request, *, back: str | None, email: str = "", error: str | None = None, status: int = 200
) -> HTMLResponse:
    return render(
        request,
        "login.html",
        {"title": "Sign in", "back": back, "email": email, "error": error},
        status=status,
    )


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    """Ask for a sign-in link; or, signed in already, say so and offer to sign out."""
    return _login_form(request, back=safe_next(next))


@router.post("/login", response_class=HTMLResponse, dependencies=[CSRF])
def login_post(request: Request, state: StateDep, email: FormText = "", next_: NextForm = "") -> Response:
    """Mail a sign-in link; the same answer whether or not the address has an account."""
    settings = state.settings
    now = state.clock()
    back = safe_next(next_)
    with transaction(state.engine) as conn:
        # Counted before validation, so junk posts use up the IP's allowance too.
        ip_ok = service.allow_ip(
            conn=conn, ip=client_ip(request), limit=settings.login_per_ip_per_hour, now=now
        )
    if not ip_ok:
        return _too_many(request)
    try:
        with transaction(state.engine) as conn:
            asked = service.request_login(
                conn=conn,
                email=email,
                next_path=back,
                now=now,
                lifetime=timedelta(minutes=settings.login_token_minutes),
                per_address_limit=settings.login_per_address_per_hour,
            )
    except BadRequest as exc:
        if wants_json(request):
            return JSONResponse({"error": {"status": 400, "message": exc.message}}, status_code=400)
        return _login_form(request, back=back, email=email[:254], error=exc.message, status=400)
    if asked.token is None:
        return _too_many(request)
    message = render_sign_in(
        ctx=mail_context(settings),
        to=asked.email,
        token=asked.token,
        minutes=settings.login_token_minutes,
        now=now,
    )
    # Sent before the page answers, so a failure is said, not just logged (#12).
    send_now(settings=settings, message=message)
    if wants_json(request):
        return JSONResponse({"status": "check-your-inbox", "email": asked.email})
    return render(
        request,
        "login_sent.html",
        {
            "title": "Check your inbox",
            "email": asked.email,
            "minutes": settings.login_token_minutes,
            "mailbox": mailbox_enabled(settings),
        },
    )


def _too_many(request: Request) -> NoReturn:
    """429 with Retry-After, as a page or JSON like every other error (web/errors.py)."""
    raise TooManyRequests(TOO_MANY, retry_after_s=RETRY_AFTER_S)


def _link_invalid(request: Request, found: tuple[TokenState, StoredToken] | None) -> HTMLResponse:
    """The page for a link that cannot sign in: why, and a form for a new one."""
    now_state = found[0] if found else None
    if now_state == "used":
        heading, message, status = "This link was already used", "Each sign-in link works once.", 410
    elif now_state == "expired":
        heading, message, status = (
            "This link has expired",
            f"Sign-in links work for {get_state(request).settings.login_token_minutes} minutes.",
            410,
        )
    else:
        heading, message, status = "This link is not valid", "It may have been copied incompletely.", 404
    return render(
        request,
        "login_link.html",
        {
            "title": heading,
            "heading": heading,
            "message": message + " Ask for a new link below.",
            "token": None,
            # The link holder had the address anyway: offering it again saves typing.
            "email": found[1].email if found else "",
            "offer_new": True,
        },
        status=status,
    )


@router.get("/login/{token}", response_class=HTMLResponse)
def login_link_page(request: Request, state: StateDep, token: str) -> HTMLResponse:
    """Show a "Sign in" button; a GET signs nobody in (mail scanners prefetch links)."""
    with reading(state.engine) as conn:
        found = service.peek_login(conn=conn, token=token[:200], now=state.clock())
    if found is None or found[0] != "usable":
        return _link_invalid(request, found)
    return render(
        request,
        "login_link.html",
        {
            "title": "Sign in",
            "heading": "Sign in to Papertrend",
            "message": f"Press the button to sign in as {found[1].email}.",
            "token": token[:200],
        },
    )


@router.post("/login/{token}", dependencies=[CSRF])
def login_link_post(request: Request, state: StateDep, token: str) -> Response:
    """Consume the link (once) and start a session, then go back to where sign-in began."""
    now = state.clock()
    previous = request.cookies.get(SESSION_COOKIE)
    with transaction(state.engine) as conn:
        done = service.sign_in(
            conn=conn,
            token=token[:200],
            now=now,
            session_lifetime=timedelta(days=state.settings.session_days),
        )
        if done is not None and previous:
            # The browser's earlier session (perhaps someone else's) ends rather than lingering.
            service.sign_out(conn=conn, session_token=previous)
    if done is None:
        with reading(state.engine) as conn:
            return _link_invalid(request, service.peek_login(conn=conn, token=token[:200], now=now))
    log.info("accounts.signed_in", extra={"user": done.user.id})
    response = RedirectResponse(done.next_path or "/", status_code=303)
    start_session(request, response, token=done.session_token, expires_at=done.session_expires_at)
    return response


@router.post("/logout", dependencies=[CSRF])
def logout(request: Request, state: StateDep, next_: NextForm = "") -> Response:
    """End this browser's session, on the server too, and forget the cookie."""
    token = request.cookies.get(SESSION_COOKIE)
    user = current_user(request)
    if token:
        with transaction(state.engine) as conn:
            service.sign_out(conn=conn, session_token=token)
    if user is not None:
        log.info("accounts.signed_out", extra={"user": user.id})
    response = RedirectResponse(safe_next(next_) or "/", status_code=303)
    clear_cookie(request, response, SESSION_COOKIE)
    return response
