"""Subscribe, confirm, preferences, unsubscribe, and the local mailbox (issue #5).

- `POST /subscribe` answers the same page whatever the address (no enumeration); the mail that goes
  out differs (digest/subscriptions.py). Rate limits per IP and per address live in the database.
- Links from mail show a page on GET and act only on POST, so scanners that prefetch links change
  nothing (DESIGN §6.10). The unsubscribe URL also takes RFC 8058's one-click POST
  (`List-Unsubscribe=One-Click`) from mail clients, which carry no cookie: for that body alone the
  signed token in the URL is the credential and no CSRF token is asked for. Every form posted from
  a page carries the page's CSRF token (web/cookies.py, issue #4).
- `/_mailbox` lists the Maildir the default mail backend writes, so someone trying Papertrend can
  click their confirmation link; it exists only with a maildir:// mail URL outside production.
"""

from __future__ import annotations

import logging
import mailbox
import re
import zoneinfo
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from papertrend import ratelimit
from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import digest_settings
from papertrend.digest import subscriptions as subs
from papertrend.digest.render import render_already, render_confirmation
from papertrend.errors import AppError, BadRequest, NotFound, TooManyRequests
from papertrend.mail.factory import send_now
from papertrend.mail.maildir import maildir_path
from papertrend.mail.message import mail_context
from papertrend.web.cookies import require_csrf_unless_one_click
from papertrend.web.deps import CSRF, StateDep
from papertrend.web.errors import wants_json
from papertrend.web.templating import render

log = logging.getLogger("papertrend.web.subscribe")

router = APIRouter(include_in_schema=False)

HOURS = list(range(24))
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
)
# Every zone Python knows, for the time zone list (#13); the common ones come first in it.
ALL_ZONES = tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))
# Both forms count per hour (papertrend.ratelimit), so after an hour trying again surely works.
RETRY_AFTER_S = 3600
MAILBOX_LIST = 200
_URL = re.compile(r"https?://[^\s<>\"']+")
_MAILBOX_KEY = re.compile(r"[\w.,:=-]{1,255}")
# The HTML part of a stored mail has inline styles by design; it is shown on its own page, sandboxed,
# with no script allowed, rather than loosening the site-wide policy.
MAIL_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'; form-action 'none'"
)

FormText = Annotated[str, Form()]


def _form_context(prefs: subs.Preferences, **extra: Any) -> dict[str, Any]:
    return {
        "prefs": prefs,
        "topics_text": "\n".join(prefs.topics),
        "include_text": ", ".join(prefs.include_keywords),
        "exclude_text": ", ".join(prefs.exclude_keywords),
        "categories_text": ", ".join(prefs.categories),
        "hours": HOURS,
        "weekdays": list(enumerate(WEEKDAYS)),
        "zones": COMMON_ZONES,
        "all_zones": ALL_ZONES,
        "error_field": None,
        "guess_zone": False,
        **extra,
    }


def _as_int(value: int | str, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _typed_context(raw: subs.PreferenceInput, exc: BadRequest, **extra: Any) -> dict[str, Any]:
    """The form again exactly as typed, with the error next to its field (#13): a wrong time zone
    used to erase topics, words, cadence and hour, and its message looked like the success notice."""
    shown = subs.Preferences(
        cadence="weekly" if raw.cadence == "weekly" else "daily",
        send_hour=_as_int(raw.send_hour, 8),
        send_weekday=_as_int(raw.send_weekday, 0),
        timezone=raw.timezone[:64],
        paused=bool(raw.paused),
    )
    return _form_context(
        shown,
        topics_text="\n".join(raw.topics)[:2_000],
        include_text=", ".join(raw.include_keywords)[:2_000],
        exclude_text=", ".join(raw.exclude_keywords)[:2_000],
        categories_text=", ".join(raw.categories)[:1_000],
        error=exc.message,
        error_field=getattr(exc, "field", None),
        **extra,
    )


def _prefs_form(
    topics: FormText = "",
    include: FormText = "",
    exclude: FormText = "",
    categories: FormText = "",
    cadence: FormText = "daily",
    send_hour: FormText = "8",
    send_weekday: FormText = "0",
    timezone: FormText = "UTC",
    paused: FormText = "",
) -> subs.PreferenceInput:
    """The preference fields both forms post (subscribe and preferences), as raw input."""
    return subs.PreferenceInput(
        topics=[topics],
        include_keywords=[include],
        exclude_keywords=[exclude],
        categories=[categories],
        cadence=cadence,
        send_hour=send_hour or 8,
        send_weekday=send_weekday or 0,
        timezone=timezone,
        paused=paused.lower() in ("1", "on", "true", "yes"),
    )


PrefsForm = Annotated[subs.PreferenceInput, Depends(_prefs_form)]


def mailbox_enabled(settings: Settings) -> bool:
    """The local mailbox pages exist only for a maildir:// mail URL, and never in production."""
    return settings.env != "production" and maildir_path(settings.mail_url) is not None


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
        _form_context(subs.Preferences(), title="Subscribe", email=email[:254], error=None, guess_zone=True),
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
        context = _typed_context(raw, exc, title="Subscribe", email=email[:254])
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
def confirm_post(state: StateDep, token: str) -> Response:
    """Confirm, then go to the preferences page to pick topics."""
    with transaction(state.engine) as conn:
        sub = subs.confirm(conn=conn, token=token[:200], now=state.clock())
    if sub is None:
        raise NotFound("This confirmation link is invalid or has expired. Subscribe again to get a new one.")
    manage = subs.link_token(secret=state.settings.secret_key, subscription=sub, purpose="manage")
    return RedirectResponse(f"/preferences/{manage}?welcome=1", status_code=303)


# --------------------------------------------------------------------------------------- preferences


def _managed(state: StateDep, token: str, purpose: subs.LinkPurpose) -> subs.Subscription:
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
    sub = _managed(state, token, "manage")
    return render(
        request,
        "subscribe_preferences.html",
        _form_context(
            sub.prefs,
            title="Your subscription",
            sub=sub,
            token=token,
            welcome=bool(welcome),
            saved=bool(saved),
            error=None,
        ),
    )


@router.post("/preferences/{token}", response_class=HTMLResponse, dependencies=[CSRF])
def preferences_post(
    request: Request,
    state: StateDep,
    token: str,
    raw: PrefsForm,
) -> Response:
    """Save preferences (a confirmed subscription only)."""
    sub = _managed(state, token, "manage")
    if sub.status != "confirmed":
        raise BadRequest("This subscription is not active; subscribe again to change it.")
    try:
        prefs = subs.parse_preferences(raw)
    except BadRequest as exc:
        context = _typed_context(
            raw, exc, title="Your subscription", sub=sub, token=token, welcome=False, saved=False
        )
        return render(request, "subscribe_preferences.html", context, status=400)
    with transaction(state.engine) as conn:
        subs.update_preferences(conn=conn, subscription_id=sub.id, prefs=prefs, now=state.clock())
    return RedirectResponse(f"/preferences/{token}?saved=1", status_code=303)


# --------------------------------------------------------------------------------------- unsubscribe


@router.get("/unsubscribe/{token}", response_class=HTMLResponse)
def unsubscribe_page(request: Request, state: StateDep, token: str) -> HTMLResponse:
    """One button; a GET unsubscribes nobody."""
    sub = _managed(state, token, "unsubscribe")
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
    sub = _managed(state, token, "unsubscribe")
    with transaction(state.engine) as conn:
        subs.unsubscribe(conn=conn, subscription_id=sub.id, now=state.clock())
    log.info("subscribe.unsubscribed", extra={"subscription": sub.id})
    return _unsubscribed(request, sub)


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


# ------------------------------------------------------------------------------------------- mailbox


class MailboxUnreadable(AppError):
    """The local Maildir cannot be read (permissions, a file where a folder should be): said, not a
    500 (#12)."""

    status = 503


@contextmanager
def _reading_box(settings: Settings) -> Iterator[mailbox.Maildir]:
    """The local Maildir, with a failure to read it reported as MailboxUnreadable."""
    path = maildir_path(settings.mail_url)
    if not mailbox_enabled(settings) or path is None:
        raise NotFound(f"There is no page at /_mailbox: mail goes to {settings.mail_url.split(':', 1)[0]}.")
    try:
        yield mailbox.Maildir(path, create=True)
    except OSError as exc:
        raise MailboxUnreadable(f"The local mailbox {path} cannot be read: {exc.strerror or exc}.") from exc


def _message(settings: Settings, key: str) -> EmailMessage:
    with _reading_box(settings) as box:
        if not _MAILBOX_KEY.fullmatch(key):
            raise NotFound("No such message.")
        try:
            parsed = BytesParser(policy=policy.default).parsebytes(box.get_bytes(key))
        except KeyError:
            raise NotFound("No such message.") from None
    assert isinstance(parsed, EmailMessage)
    return parsed


@router.get("/_mailbox", response_class=HTMLResponse)
def mailbox_list(request: Request, state: StateDep) -> HTMLResponse:
    """The newest messages in the local Maildir."""
    with _reading_box(state.settings) as box:
        # Maildir keys start with the delivery time, so sorting them sorts by arrival.
        keys = sorted(box.iterkeys(), reverse=True)[:MAILBOX_LIST]
        total = len(box)
    rows = []
    parser = BytesHeaderParser(policy=policy.default)
    for key in keys:
        try:
            with box.get_file(key) as fh:
                head = parser.parsebytes(fh.read(65536))
        except (KeyError, OSError):
            continue
        rows.append(
            {
                "key": key,
                "to": head.get("To", ""),
                "subject": head.get("Subject", ""),
                "date": head.get("Date", ""),
            }
        )
    return render(
        request,
        "mailbox.html",
        {
            "title": "Local mailbox",
            "messages": rows,
            "total": total,
            "path": str(maildir_path(state.settings.mail_url)),
        },
    )


@router.get("/_mailbox/{key}", response_class=HTMLResponse)
def mailbox_message(request: Request, state: StateDep, key: str) -> HTMLResponse:
    """One message: headers, its text part, and the links in it."""
    msg = _message(state.settings, key)
    text_part = msg.get_body(preferencelist=("plain",))
    text = text_part.get_content() if isinstance(text_part, EmailMessage) else ""
    html_part = msg.get_body(preferencelist=("html",))
    links = list(dict.fromkeys(_URL.findall(text)))
    headers = [
        (name, str(msg.get(name, "")))
        for name in (
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "List-Unsubscribe",
            "List-Unsubscribe-Post",
        )
        if msg.get(name)
    ]
    return render(
        request,
        "mailbox_message.html",
        {
            "title": str(msg.get("Subject", "Message")),
            "key": key,
            "headers": headers,
            "text": text,
            "links": links,
            "has_html": html_part is not None,
        },
    )


@router.get("/_mailbox/{key}/html")
def mailbox_message_html(state: StateDep, key: str) -> Response:
    """The HTML part as the recipient would see it, sandboxed: no script, no same-origin access."""
    msg = _message(state.settings, key)
    part = msg.get_body(preferencelist=("html",))
    if not isinstance(part, EmailMessage):
        raise NotFound("This message has no HTML part.")
    return HTMLResponse(part.get_content(), headers={"content-security-policy": MAIL_HTML_CSP})
