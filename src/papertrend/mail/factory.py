"""A mail URL to its backend (`PAPERTREND_MAIL_URL`), and the URL as logs may show it (issue #5)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

from papertrend.config import Settings
from papertrend.errors import AppError
from papertrend.mail.console import ConsoleMailer
from papertrend.mail.journal import Journal
from papertrend.mail.maildir import MaildirMailer, maildir_path
from papertrend.mail.protocol import Mailer, SendError
from papertrend.mail.smtp import Pause, SmtpMailer, TlsMode

log = logging.getLogger("papertrend.mail")


def make_mailer(
    url: str, *, journal: Journal | None = None, timeout: float = 30.0, pause: Pause | None = None
) -> Mailer:
    """The backend a mail URL names; ValueError for one we do not know."""
    path = maildir_path(url)
    if path is not None:
        return MaildirMailer(path, journal=journal)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return ConsoleMailer(journal=journal)
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ValueError(
                f"mail URL {scheme}://… needs a host, e.g. {scheme}://user:pass@smtp.example.org"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        username = unquote(parts.username) if parts.username else None
        tls = query.get("starttls", "required" if username else "opportunistic")
        if tls not in ("required", "opportunistic", "off"):
            raise ValueError("starttls= must be required, opportunistic or off")
        return SmtpMailer(
            host=parts.hostname,
            port=parts.port or (465 if scheme == "smtps" else 587),
            implicit_tls=scheme == "smtps",
            tls=cast(TlsMode, tls),
            username=username,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", timeout)),
            cafile=query.get("cafile"),
            journal=journal,
            pause=pause,
        )
    raise ValueError(f"unknown mail URL {url!r}: use smtp://, smtps://, maildir:// or console://")


def describe(url: str) -> str:
    """The mail URL with any password hidden, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


class MailNotSent(AppError):
    """A mail the person is waiting for (sign-in, confirmation) could not be sent: say so (#12)."""

    status = 503


def send_now(*, settings: Settings, message: EmailMessage) -> None:
    """Send one message while the person waits, or raise MailNotSent saying it did not go (#12:
    a failure used to be logged after the page had said the mail was on its way)."""
    try:
        mailer = make_mailer(settings.mail_url, timeout=settings.mail_timeout)
    except ValueError as exc:  # a mail URL we do not know: the configuration, not the person
        log.error("mail.not_sent", extra={"error": str(exc)})
        raise MailNotSent("Papertrend cannot send mail: its mail settings are wrong.") from exc
    try:
        mailer.send(message)
    except SendError as exc:
        log.warning("mail.not_sent", extra={"error": str(exc), "mail": describe(settings.mail_url)})
        raise MailNotSent(
            "We could not send the email just now, so nothing is on its way. "
            + (
                "That address cannot be mailed."
                if exc.kind == "invalid"
                else "Please try again in a few minutes."
            )
        ) from exc
    finally:
        mailer.close()


def journal_for(settings: Settings) -> Journal:
    """The delivery journal in the data directory."""
    return Journal(settings.data_dir / "mail-journal")
