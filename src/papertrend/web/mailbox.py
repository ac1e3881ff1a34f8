"""`/_mailbox`: the local Maildir the default mail backend writes, as pages (issue #5).

Someone trying Papertrend can click their confirmation or sign-in link here; the pages exist only
with a maildir:// mail URL outside production.
"""

from __future__ import annotations

import mailbox
import re
from collections.abc import Iterator
from contextlib import contextmanager
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from papertrend.config import Settings
from papertrend.errors import AppError, NotFound
from papertrend.mail.maildir import maildir_path
from papertrend.web.deps import StateDep
from papertrend.web.templating import render

router = APIRouter(include_in_schema=False)

MAILBOX_LIST = 200
_URL = re.compile(r"https?://[^\s<>\"']+")
_MAILBOX_KEY = re.compile(r"[\w.,:=-]{1,255}")
# The HTML part of a stored mail has inline styles by design; it is shown on its own page, sandboxed,
# with no script allowed, rather than loosening the site-wide policy.
MAIL_HTML_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: https:; "
    "sandbox allow-popups allow-popups-to-escape-sandbox; frame-ancestors 'self'; form-action 'none'"
)


def mailbox_enabled(settings: Settings) -> bool:
    """The local mailbox pages exist only for a maildir:// mail URL, and never in production."""
    return settings.env != "production" and maildir_path(settings.mail_url) is not None


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
