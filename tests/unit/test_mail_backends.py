"""Mail backends chosen by URL, and their error classes (issue #5 items 5, 6)."""

from __future__ import annotations

import io
from email.message import EmailMessage
from pathlib import Path

import pytest

from papertrend.mail.console import ConsoleMailer
from papertrend.mail.factory import describe, make_mailer
from papertrend.mail.journal import Journal
from papertrend.mail.maildir import MaildirMailer
from papertrend.mail.message import MAIL_POLICY
from papertrend.mail.protocol import SendError
from papertrend.mail.smtp import SmtpMailer
from tests.digest_support import SmtpSink


def message(mid: str = "<m1@example.org>", to: str = "reader@example.org") -> EmailMessage:
    msg = EmailMessage(policy=MAIL_POLICY)
    msg["From"] = "Papertrend <digest@example.org>"
    msg["To"] = to
    msg["Subject"] = "Hello"
    msg["Message-ID"] = mid
    msg.set_content("Hello.\n.leading dot line\n")
    return msg


def test_urls_pick_backends(tmp_path: Path) -> None:
    smtp = make_mailer("smtp://user:p%40ss@mail.example.org")
    assert isinstance(smtp, SmtpMailer)
    assert (smtp.host, smtp.port, smtp.implicit_tls, smtp.tls) == ("mail.example.org", 587, False, "required")
    assert (smtp.username, smtp.password) == ("user", "p@ss")
    relay = make_mailer("smtp://127.0.0.1:2525")
    assert isinstance(relay, SmtpMailer) and relay.tls == "opportunistic" and relay.port == 2525
    smtps = make_mailer("smtps://u:p@mail.example.org?timeout=5")
    assert isinstance(smtps, SmtpMailer) and smtps.implicit_tls and smtps.port == 465 and smtps.timeout == 5
    box = make_mailer(f"maildir://{tmp_path / 'box'}")
    assert isinstance(box, MaildirMailer) and box.path == tmp_path / "box"
    relative = make_mailer("maildir://./var/mail")
    assert isinstance(relative, MaildirMailer) and relative.path == Path("./var/mail")
    assert isinstance(make_mailer("console://"), ConsoleMailer)
    for bad in ("http://example.org", "smtp://", "smtp://h?starttls=maybe"):
        with pytest.raises(ValueError):
            make_mailer(bad)
    assert describe("smtp://user:secret@mail.example.org:587") == "smtp://user:***@mail.example.org:587"


def test_maildir_delivers_atomically_and_knows_what_it_holds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal")
    mailer = MaildirMailer(tmp_path / "box", journal=journal)
    assert mailer.lookup("<m1@example.org>") is False
    delivery = mailer.send(message())
    assert delivery.startswith("maildir:")
    assert mailer.lookup("<m1@example.org>") is True
    assert mailer.lookup("<m2@example.org>") is False
    entry = journal.read()["<m1@example.org>"]
    assert entry.prepared and entry.handed_off and entry.code == 250


def test_console_prints(tmp_path: Path) -> None:
    out = io.StringIO()
    ConsoleMailer(stream=out).send(message())
    assert "Subject: Hello" in out.getvalue() and "\r" not in out.getvalue()


def test_smtp_delivers_dot_stuffed_and_reuses_the_connection(tmp_path: Path) -> None:
    sink = SmtpSink().start()
    try:
        journal = Journal(tmp_path)
        mailer = make_mailer(sink.url, journal=journal)
        assert mailer.send(message("<m1@x>")) == "smtp:Q1"
        assert mailer.send(message("<m2@x>")) == "smtp:Q2"
        mailer.close()
        first = sink.received[0].message
        assert first.get_content().replace("\r\n", "\n") == "Hello.\n.leading dot line\n"
        assert journal.read()["<m2@x>"].code == 250
    finally:
        sink.stop()


def test_smtp_dot_stuffing_keeps_every_dot_line_of_the_body() -> None:
    # A lone "." line would end DATA early if it were not doubled; ".." must arrive as "..".
    body = ".\n..\n.x\nend.\n.\n"
    msg = message("<dots@x>")
    msg.set_content(body)
    sink = SmtpSink().start()
    try:
        mailer = make_mailer(sink.url)
        mailer.send(msg)
        mailer.close()
        assert sink.received[0].message.get_content().replace("\r\n", "\n") == body
    finally:
        sink.stop()


def test_smtp_errors_are_classified(tmp_path: Path) -> None:
    sink = SmtpSink().start()
    try:
        sink.script_rcpt("later@example.org", ["451 4.7.1 Try again later"])
        sink.script_rcpt("gone@example.org", ["550 5.1.1 No such user"])
        mailer = make_mailer(sink.url)
        with pytest.raises(SendError) as temporary:
            mailer.send(message(to="later@example.org"))
        assert temporary.value.kind == "temporary" and temporary.value.code == 451
        with pytest.raises(SendError) as permanent:
            mailer.send(message(to="gone@example.org"))
        assert permanent.value.kind == "permanent" and permanent.value.code == 550
        # The connection survives refusals (RSET) and carries the next message.
        assert mailer.send(message(to="fine@example.org")).startswith("smtp:")
        sink.script_data(["554 5.7.1 Message rejected"])
        with pytest.raises(SendError) as rejected:
            mailer.send(message(to="fine@example.org"))
        assert rejected.value.kind == "permanent"
        mailer.close()
        # Credentials never go in clear: no STARTTLS offered means a fatal configuration error.
        with pytest.raises(SendError) as fatal:
            make_mailer(f"smtp://user:pass@127.0.0.1:{sink.port}").send(message())
        assert fatal.value.kind == "fatal" and "STARTTLS" in str(fatal.value)
    finally:
        sink.stop()


def test_server_down_is_a_temporary_connection_error() -> None:
    from tests.digest_support import free_port

    with pytest.raises(SendError) as down:
        make_mailer(f"smtp://127.0.0.1:{free_port()}", timeout=2).send(message())
    assert down.value.kind == "temporary" and down.value.connection
