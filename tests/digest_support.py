"""Helpers for the digest tests (issue #5): papers, subscribers, and a scriptable SMTP server.

`SmtpSink` is a real aiosmtpd server on 127.0.0.1 whose replies can be scripted per recipient
(e.g. 451 twice, then accept; 550 always), recording every message it accepts.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from papertrend.db import transaction
from papertrend.digest import subscriptions as subs
from papertrend.ingest.pipeline import store
from papertrend.papers.models import PaperIn


def paper(
    pid: str,
    title: str,
    *,
    day: date,
    abstract: str = "",
    upvotes: int = 0,
    categories: Sequence[str] = ("cs.CL",),
    code_url: str | None = None,
) -> PaperIn:
    """A paper listed on `day`."""
    return PaperIn(
        id=pid,
        title=title,
        source="test",
        abstract=abstract or f"The abstract of {title}.",
        authors=["Ada Lovelace", "Alan Turing"],
        categories=list(categories),
        listed_on=day,
        published_at=datetime.combine(day, datetime.min.time(), UTC),
        hf_upvotes=upvotes,
        code_url=code_url,
    )


def add_papers(engine: Engine, items: Iterable[PaperIn], *, now: datetime | None = None) -> None:
    """Store papers (and index them for keyword search)."""
    with transaction(engine) as conn:
        store(conn=conn, items=list(items), now=now or datetime.now(UTC))


def add_subscriber(
    engine: Engine,
    email: str,
    *,
    confirmed_at: datetime,
    prefs: subs.Preferences | None = None,
) -> subs.Subscription:
    """A subscriber confirmed at `confirmed_at`, through the same functions the web pages use."""
    with transaction(engine) as conn:
        result = subs.subscribe(conn=conn, email=email, prefs=prefs or subs.Preferences(), now=confirmed_at)
        assert result.token is not None
        sub = subs.confirm(conn=conn, token=result.token, now=confirmed_at)
    assert sub is not None
    return sub


def add_subscribers(
    engine: Engine, count: int, *, confirmed_at: datetime, prefs: subs.Preferences | None = None
) -> list[subs.Subscription]:
    """`count` confirmed subscribers reader0@example.org … in one transaction."""
    out = []
    with transaction(engine) as conn:
        for i in range(count):
            result = subs.subscribe(
                conn=conn, email=f"reader{i}@example.org", prefs=prefs or subs.Preferences(), now=confirmed_at
            )
            assert result.token is not None
            sub = subs.confirm(conn=conn, token=result.token, now=confirmed_at)
            assert sub is not None
            out.append(sub)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    """One message the sink accepted."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    tls: bool = False  # whether it came over TLS (STARTTLS or implicit)
    login: str | None = None  # the user name the client authenticated as

    @property
    def message(self) -> EmailMessage:
        msg = message_from_bytes(self.data, policy=policy.default)
        assert isinstance(msg, EmailMessage)
        return msg

    @property
    def message_id(self) -> str:
        return str(self.message["Message-ID"])


@dataclass
class _Handler:
    rcpt_script: dict[str, list[str]] = field(default_factory=dict)
    data_script: list[str] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        with self.lock:
            script = self.rcpt_script.get(address.lower())
            if script:
                reply = script.pop(0) if len(script) > 1 else script[0]
                if not reply.startswith("250"):
                    return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            if self.data_script:
                reply = self.data_script.pop(0)
                if not reply.startswith("250"):
                    return reply
            login = session.auth_data.login.decode() if session.authenticated else None
            tls = server.transport.get_extra_info("ssl_object") is not None
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content), tls, login)
            )
            n = len(self.received)
        return f"250 2.0.0 Ok: queued as Q{n}"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 (aiosmtpd), in a thread of the test process.

    `options` go to aiosmtpd: `tls_context=` and `require_starttls=` for STARTTLS, `ssl_context=`
    for TLS from the first byte, `authenticator=` and `auth_required=` for AUTH.
    """

    def __init__(self, **options: Any) -> None:
        self.handler = _Handler()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port, **options)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        with self.handler.lock:
            return list(self.handler.received)

    def script_rcpt(self, address: str, replies: list[str]) -> None:
        """Reply to RCPT TO:<address> with these in turn (the last one repeats)."""
        with self.handler.lock:
            self.handler.rcpt_script[address.lower()] = list(replies)

    def script_data(self, replies: list[str]) -> None:
        """Reply to the next DATA commands with these (then accept)."""
        with self.handler.lock:
            self.handler.data_script = list(replies)

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.received:
            for to in r.rcpt_tos:
                out.setdefault(to.lower(), []).append(r)
        return out


def at(day: date, hour: int = 9, minute: int = 0) -> datetime:
    """An aware UTC time on `day`."""
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour, minutes=minute)


def make_app(settings: Any, engine: Engine, *, clock: Any) -> Any:
    """The web app with the subscription routes (included here until create_app includes them)."""
    from papertrend.web import subscribe
    from papertrend.web.app import create_app

    app = create_app(settings, engine=engine, clock=clock)
    paths = {getattr(r, "path", None) for r in app.routes}
    if "/subscribe/confirm/{token}" not in paths:
        app.include_router(subscribe.router)
    return app


def tuned(settings: Any, monkeypatch: Any, **values: Any) -> Any:
    """Settings with digest values changed, whether or not `Settings` declares them yet.

    The values go into a copy of the settings (what `digest_settings` reads once they are fields,
    and reads already, as the copy carries them) and into the environment (for code that builds
    its own `Settings()`, such as the CLI).
    """
    for name, value in values.items():
        monkeypatch.setenv(f"PAPERTREND_{name.upper()}", str(value))
    return settings.model_copy(update=values)


def digest_run_command(now: datetime) -> list[str]:
    """`papertrend digest run` at `now`, ranking by keyword (no model), as a process of its own."""
    return [
        sys.executable,
        "-m",
        "papertrend.digest.cli",
        "run",
        "--now",
        now.isoformat(),
        "--mode",
        "keyword",
    ]
