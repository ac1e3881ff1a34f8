"""The browser cookies of sign-in and CSRF protection, and reading them back (issue #4, part 2).

Both are HttpOnly and SameSite=Lax, and Secure when the site is served over https: the request came
in as https (uvicorn applies X-Forwarded-Proto only from trusted proxies, by default 127.0.0.1), or
PAPERTREND_BASE_URL is https, which says a TLS proxy stands in front even if it forwards plain http.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from fastapi import Request, Response

from papertrend import security
from papertrend.accounts import service
from papertrend.accounts.repository import User
from papertrend.db import reading
from papertrend.errors import Forbidden

if TYPE_CHECKING:
    from papertrend.web.deps import AppState

SESSION_COOKIE = "papertrend_session"
CSRF_COOKIE = "papertrend_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
CSRF_MAX_AGE = 365 * 24 * 3600
# "This browser's reader gets the digest" (#13): set on confirming, on the preferences page and on
# "Your email"; cleared on unsubscribing here. Not a credential (its value is "1"): it only stops
# the banner asking a subscriber for their address, so it outlives sessions, for a year.
SUBSCRIBED_COOKIE = "papertrend_subscribed"
SUBSCRIBED_MAX_AGE = 365 * 24 * 3600
# Pages rendered for the page cache (papertrend.web.pagecache) carry this in place of the token,
# which the cache swaps for each visitor's own; same length as a real token.
CSRF_PLACEHOLDER_FLAG = "csrf_placeholder"
CSRF_PLACEHOLDER = "csrf-placeholder-".ljust(43, "x")
CSRF_FAILED = (
    "This form could not be accepted: it has expired or did not come from a page of this site. "
    "Go back, reload the page and try again."
)


def _state(request: Request) -> AppState:
    return cast("AppState", request.app.state.papertrend)


def secure(request: Request) -> bool:
    """Whether cookies must be Secure (https only) for this request."""
    return request.url.scheme == "https" or _state(request).settings.base_url.startswith("https://")


def set_cookie(request: Request, response: Response, name: str, value: str, *, max_age: int) -> None:
    """Set one of our cookies with the flags issue #4 asks for."""
    response.set_cookie(
        name, value, max_age=max_age, path="/", httponly=True, samesite="lax", secure=secure(request)
    )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Remove one of our cookies from the browser."""
    response.delete_cookie(name, path="/", httponly=True, samesite="lax", secure=secure(request))


def mark_subscribed(request: Request, response: Response) -> None:
    """Remember in this browser that its reader is subscribed, so the banner stops asking (#13)."""
    if request.cookies.get(SUBSCRIBED_COOKIE) != "1":
        set_cookie(request, response, SUBSCRIBED_COOKIE, "1", max_age=SUBSCRIBED_MAX_AGE)


def forget_subscribed(request: Request, response: Response) -> None:
    """The reader unsubscribed in this browser: the banner may offer the digest again."""
    if SUBSCRIBED_COOKIE in request.cookies:
        clear_cookie(request, response, SUBSCRIBED_COOKIE)


# -------------------------------------------------------------------------------------------- sessions


def current_user(request: Request) -> User | None:
    """The signed-in user of this request, read once and kept on the request."""
    if hasattr(request.state, "user"):
        return cast(User | None, request.state.user)
    token = request.cookies.get(SESSION_COOKIE, "")
    user = None
    if token:
        state = _state(request)
        with reading(state.engine) as conn:
            user = service.session_user(conn=conn, session_token=token, now=state.clock())
    request.state.user = user
    return user


def start_session(request: Request, response: Response, *, token: str, expires_at: datetime) -> None:
    """Give the browser its session cookie, lasting as long as the session row, and a new CSRF
    secret: a token someone learnt before sign-in is worthless after it (#12, item 6)."""
    max_age = max(0, int((expires_at - _state(request).clock()).total_seconds()))
    set_cookie(request, response, SESSION_COOKIE, token, max_age=max_age)
    set_cookie(request, response, CSRF_COOKIE, security.new_token(), max_age=CSRF_MAX_AGE)


# ------------------------------------------------------------------------------------------------ CSRF
#
# Signed double submit (issue #4): each browser gets a random cookie; forms carry
# HMAC(secret, cookie) in a hidden field. Another site can make a browser send the cookie but can
# neither read it nor compute the field, so its forged POST fails. Routes that change data depend
# on `require_csrf`; pages get the field from `csrf_field()` in templates. Beside the token, a
# request the browser itself marks as coming from another site is refused (#12, item 6): a second
# wall should the token ever leak, e.g. from a cached page.


def expected_token(*, secret: str, browser: str) -> str:
    """The form token that goes with a browser's CSRF cookie."""
    return security.sign(secret=secret, message=f"csrf|{browser}")


def _valid_browser(value: str | None) -> bool:
    return bool(value) and 20 <= len(value or "") <= 100


def csrf_token(request: Request) -> str:
    """The token this request's forms carry; a browser without a CSRF cookie is given one."""
    if getattr(request.state, CSRF_PLACEHOLDER_FLAG, False):
        return CSRF_PLACEHOLDER
    browser = request.cookies.get(CSRF_COOKIE)
    if not _valid_browser(browser):
        browser = getattr(request.state, "csrf_new", None) or security.new_token()
        request.state.csrf_new = browser
    assert browser is not None
    return expected_token(secret=_state(request).settings.secret_key, browser=browser)


def give_csrf_cookie(request: Request, response: Response) -> None:
    """Set the CSRF cookie if this request created one (pages call this after rendering)."""
    new = getattr(request.state, "csrf_new", None)
    if new:
        set_cookie(request, response, CSRF_COOKIE, new, max_age=CSRF_MAX_AGE)


def csrf_for(request: Request) -> tuple[str, bytes | None]:
    """The token for this request's forms and, for a browser that has no CSRF cookie yet, the
    Set-Cookie header value giving it one: what `csrf_token` + `give_csrf_cookie` do for a render."""
    token = csrf_token(request)
    response = Response()
    give_csrf_cookie(request, response)
    cookie = next((v for k, v in response.raw_headers if k == b"set-cookie"), None)
    return token, cookie


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def from_this_site(request: Request) -> bool:
    """False when the browser says the request comes from another site.

    Browsers since 2020-2023 send `Sec-Fetch-Site`: only `same-origin` and `none` (typed, or a
    bookmark) pass; `same-site` is a sibling host, which is not us. Older browsers send `Origin`,
    which must be this site's (as the request reached us, or PAPERTREND_BASE_URL behind a proxy).
    Without either (curl, old clients) the token alone decides.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site.lower() in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    own = {_origin(str(request.url)), _origin(_state(request).settings.base_url)}
    return origin.lower() in own


def csrf_ok(request: Request, form: Any) -> bool:
    """Whether the request comes from this site and carries the form token (field or header) that
    matches its CSRF cookie."""
    if not from_this_site(request):
        return False
    browser = request.cookies.get(CSRF_COOKIE)
    sent = form.get(CSRF_FIELD) if form is not None else None
    sent = sent if isinstance(sent, str) and sent else request.headers.get(CSRF_HEADER, "")
    if not _valid_browser(browser) or not sent:
        return False
    assert browser is not None
    return security.same(expected_token(secret=_state(request).settings.secret_key, browser=browser), sent)


async def require_csrf(request: Request) -> None:
    """Dependency of every route that changes data from a form: 403 unless the token matches."""
    if not csrf_ok(request, await request.form()):
        raise Forbidden(CSRF_FAILED)


async def require_csrf_unless_one_click(request: Request) -> None:
    """`require_csrf`, except for RFC 8058 one-click unsubscribes from mail clients.

    A mail client POSTs `List-Unsubscribe=One-Click` with no cookie; the signed token in the URL is
    its credential, and nobody without the mail has it, so a forged request cannot name a victim.
    """
    form = await request.form()
    if form.get("List-Unsubscribe") == "One-Click":
        return
    if not csrf_ok(request, form):
        raise Forbidden(CSRF_FAILED)
