"""A mail URL to its backend (`PAPERTREND_MAIL_URL`), and the URL as logs may show it (issue #5)."""

from __future__ import annotations

from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

from papertrend.config import Settings
from papertrend.mail.console import ConsoleMailer
from papertrend.mail.journal import Journal
from papertrend.mail.maildir import MaildirMailer, maildir_path
from papertrend.mail.protocol import Mailer
from papertrend.mail.smtp import Pause, SmtpMailer, TlsMode


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


def journal_for(settings: Settings) -> Journal:
    """The delivery journal in the data directory."""
    return Journal(settings.data_dir / "mail-journal")
