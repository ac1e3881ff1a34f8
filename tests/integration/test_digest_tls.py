"""The mailer against real TLS SMTP servers (issue #5 item 6): STARTTLS and smtps, with AUTH.

aiosmtpd on 127.0.0.1 serves a certificate from a throwaway CA made for each test run (trustme).
The mailer verifies certificates and host names by default; `?cafile=` in PAPERTREND_MAIL_URL
trusts the private CA. An untrusted certificate and a wrong password stop the run with an error
that says what to fix, and lose nothing: the editions wait, unattempted, for the next run.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest.ranking import keyword_ranker
from papertrend.digest.run import run_digest
from papertrend.digest.tables import digest_editions
from tests.digest_support import SmtpSink, add_papers, add_subscriber, at, paper, tuned

DAY = date(2026, 6, 23)
CONFIRMED = at(DAY - timedelta(days=2), 12)
RUN = at(DAY, 8, 5)
USER, PASSWORD = "digest", "s3cret p@ss"
# aiosmtpd warns when AUTH does not require STARTTLS; on the smtps server TLS starts with the first
# byte, which aiosmtpd's check does not count.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
URL_PASSWORD = "s3cret%20p%40ss"  # percent-encoded in the URL, as docs/email.md says


class Accounts:
    """An aiosmtpd authenticator with one account; remembers the logins it refused."""

    def __init__(self) -> None:
        self.refused: list[str] = []

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        login, password = auth_data.login.decode(), auth_data.password.decode()
        if (login, password) == (USER, PASSWORD):
            return AuthResult(success=True, auth_data=auth_data)
        self.refused.append(login)
        return AuthResult(success=False, handled=False)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


def server_context(ca: trustme.CA, *names: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


@pytest.fixture
def accounts() -> Accounts:
    return Accounts()


@pytest.fixture
def starttls(ca: trustme.CA, accounts: Accounts) -> Iterator[SmtpSink]:
    """STARTTLS required before anything, AUTH required (and offered only over TLS)."""
    sink = SmtpSink(
        tls_context=server_context(ca, "127.0.0.1"),
        require_starttls=True,
        authenticator=accounts,
        auth_required=True,
    ).start()
    yield sink
    sink.stop()


@pytest.fixture
def smtps(ca: trustme.CA, accounts: Accounts) -> Iterator[SmtpSink]:
    """TLS from the first byte, AUTH required (aiosmtpd counts only STARTTLS as TLS for AUTH)."""
    sink = SmtpSink(
        ssl_context=server_context(ca, "127.0.0.1"),
        authenticator=accounts,
        auth_required=True,
        auth_require_tls=False,
    ).start()
    yield sink
    sink.stop()


@pytest.fixture
def readers(engine: Engine) -> list[str]:
    add_papers(engine, [paper("2606.00001", "Agents that simulate people", day=DAY, upvotes=5)])
    emails = [f"r{i}@example.org" for i in range(3)]
    for email in emails:
        add_subscriber(engine, email, confirmed_at=CONFIRMED)
    return emails


def run(engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch, url: str, now: Any = RUN) -> Any:
    mailing = tuned(settings, monkeypatch, mail_url=url, mail_rate=0.0)
    report = run_digest(engine=engine, settings=mailing, ranker=keyword_ranker(engine), now=now)
    assert report.delivery is not None
    return report.delivery


def statuses(engine: Engine) -> list[tuple[str, int]]:
    with reading(engine) as conn:
        return [
            tuple(r) for r in conn.execute(sa.select(digest_editions.c.status, digest_editions.c.attempts))
        ]


def test_starttls_with_auth_delivers_over_a_verified_connection(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    starttls: SmtpSink,
    ca_file: Path,
    readers: list[str],
) -> None:
    url = f"smtp://{USER}:{URL_PASSWORD}@127.0.0.1:{starttls.port}?cafile={ca_file}"
    delivery = run(engine, settings, monkeypatch, url)
    assert delivery.sent == 3 and delivery.stopped is None
    got = starttls.received
    assert sorted(r.rcpt_tos[0] for r in got) == readers
    assert all(r.tls and r.login == USER for r in got)  # the URL's credentials, over TLS
    assert {s for s, _ in statuses(engine)} == {"sent"}


def test_smtps_with_auth_delivers_over_tls_from_the_first_byte(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    smtps: SmtpSink,
    ca_file: Path,
    readers: list[str],
) -> None:
    url = f"smtps://{USER}:{URL_PASSWORD}@127.0.0.1:{smtps.port}?cafile={ca_file}"
    delivery = run(engine, settings, monkeypatch, url)
    assert delivery.sent == 3 and delivery.stopped is None
    assert all(r.tls and r.login == USER for r in smtps.received)
    assert len(smtps.received) == 3


@pytest.mark.parametrize("scheme", ["smtp", "smtps"])
def test_an_untrusted_certificate_is_refused_and_nothing_is_lost(
    scheme: str,
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    starttls: SmtpSink,
    smtps: SmtpSink,
    ca_file: Path,
    readers: list[str],
) -> None:
    sink = starttls if scheme == "smtp" else smtps
    url = f"{scheme}://{USER}:{URL_PASSWORD}@127.0.0.1:{sink.port}"
    # No cafile: the throwaway CA is not among the system's, so the certificate is not trusted.
    delivery = run(engine, settings, monkeypatch, url)
    assert delivery.sent == 0 and delivery.stopped is not None
    assert "TLS certificate of 127.0.0.1" in delivery.stopped and "not trusted" in delivery.stopped
    assert "cafile" in delivery.stopped  # says how to fix it
    assert sink.received == []
    # Nothing held against the subscribers: every edition waits, its try not counted.
    assert statuses(engine) == [("retry", 0)] * 3
    # Trusting the CA, the next run sends them all, once.
    delivery = run(engine, settings, monkeypatch, f"{url}?cafile={ca_file}", now=RUN + timedelta(minutes=5))
    assert delivery.sent == 3
    assert sorted(r.rcpt_tos[0] for r in sink.received) == readers


def test_a_certificate_for_another_host_is_refused(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    ca: trustme.CA,
    ca_file: Path,
    readers: list[str],
) -> None:
    # Signed by the trusted CA, but for another name: host names are checked too.
    sink = SmtpSink(ssl_context=server_context(ca, "mail.example.org")).start()
    try:
        delivery = run(engine, settings, monkeypatch, f"smtps://127.0.0.1:{sink.port}?cafile={ca_file}")
        assert delivery.stopped is not None and "not trusted" in delivery.stopped
        assert "127.0.0.1" in delivery.stopped and sink.received == []
        assert statuses(engine) == [("retry", 0)] * 3
    finally:
        sink.stop()


def test_a_wrong_password_is_a_clear_failure_that_loses_nothing(
    engine: Engine,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
    starttls: SmtpSink,
    accounts: Accounts,
    ca_file: Path,
    readers: list[str],
) -> None:
    url = f"smtp://{USER}:wrong@127.0.0.1:{starttls.port}?cafile={ca_file}"
    delivery = run(engine, settings, monkeypatch, url)
    assert delivery.sent == 0 and delivery.stopped is not None
    assert f"SMTP login to 127.0.0.1:{starttls.port} as '{USER}' refused: 535" in delivery.stopped
    assert "wrong" not in delivery.stopped  # the password is never repeated
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN) on the one connection; then the
    # run stops instead of trying again for every message.
    assert set(accounts.refused) == {USER} and len(accounts.refused) <= 2
    assert starttls.received == []
    assert statuses(engine) == [("retry", 0)] * 3
