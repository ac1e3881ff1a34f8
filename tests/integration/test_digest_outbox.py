"""Composing into the outbox and the delivery state machine, with a scripted mailer (issue #5).

The recovery rule is tested here row by row: a dead sender's `sending` rows are settled from the
journal (reply → as replied; hand-off only → sent; prepared only or nothing → sent again) or the
Maildir itself.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.cli import digest_app
from papertrend.digest.outbox import (
    DeliveryReport,
    Outcome,
    Policy,
    apply,
    backoff,
    record,
    recover,
)
from papertrend.digest.ranking import keyword_ranker
from papertrend.digest.run import run_digest
from papertrend.digest.tables import digest_editions, sent_papers
from papertrend.leases import owner_gone
from papertrend.mail.factory import journal_for
from papertrend.mail.journal import Journal
from papertrend.mail.maildir import MaildirMailer
from papertrend.mail.protocol import Mailer, SendError
from tests.digest_support import add_papers, add_subscriber, at, paper, tuned

HOST = socket.gethostname()
DAY = date(2026, 6, 23)
CONFIRMED = at(DAY - timedelta(days=5), 12)


class FakeMailer:
    """Delivers into a list; `script[address]` lists errors to raise first."""

    name = "fake"

    def __init__(self, script: dict[str, list[SendError]] | None = None) -> None:
        self.sent: list[EmailMessage] = []
        self.script = script or {}
        self.lock = threading.Lock()

    def send(self, message: EmailMessage) -> str:
        with self.lock:
            queue = self.script.get(str(message["To"]), [])
            if queue:
                raise queue.pop(0)
            self.sent.append(message)
            return f"fake:{len(self.sent)}"

    def lookup(self, message_id: str) -> bool | None:
        return None

    def close(self) -> None:
        pass

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.sent if m["To"] == address]


@pytest.fixture
def settings(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """No rate limit, and small sections so four papers fill both."""
    return tuned(settings, monkeypatch, mail_rate=0.0, digest_trending=2, digest_for_you=2)


def run(engine: Engine, settings: Settings, mailer: Mailer, now: datetime, **kw: object) -> str:
    report = run_digest(
        engine=engine,
        settings=settings,
        ranker=keyword_ranker(engine),
        now=now,
        mailer_factory=lambda: mailer,
        **kw,
    )  # type: ignore[arg-type]
    return report.summary()


def rows(engine: Engine) -> list[sa.Row[tuple[object, ...]]]:
    with reading(engine) as conn:
        return list(conn.execute(sa.select(digest_editions).order_by(digest_editions.c.id)))


def ids_in(message: EmailMessage) -> list[str]:
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    import re

    return re.findall(r"/papers/(\d{4}\.\d{5})", text)


def test_a_paper_goes_to_a_subscriber_once_across_editions(engine: Engine, settings: Settings) -> None:
    add_papers(
        engine, [paper(f"2606.0000{i}", f"Agents paper {i}", day=DAY, upvotes=10 - i) for i in range(1, 5)]
    )
    add_subscriber(
        engine, "r@example.org", confirmed_at=CONFIRMED, prefs=subs.Preferences(topics=("agents",))
    )
    mailer = FakeMailer()
    run(engine, settings, mailer, at(DAY, 8, 5))
    first = ids_in(mailer.sent[0])
    assert sorted(set(first)) == ["2606.00001", "2606.00002", "2606.00003", "2606.00004"]
    add_papers(engine, [paper("2606.00009", "Agents paper 9", day=DAY + timedelta(days=1), upvotes=1)])
    run(engine, settings, mailer, at(DAY + timedelta(days=1), 8, 5))
    assert set(ids_in(mailer.sent[1])) == {"2606.00009"}
    with reading(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sent_papers)).scalar() == 5


def test_no_new_papers_means_no_mail_and_a_log_line(
    engine: Engine, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    add_papers(engine, [paper("2606.00001", "Old news", day=DAY - timedelta(days=30))])
    add_subscriber(engine, "r@example.org", confirmed_at=CONFIRMED)
    mailer = FakeMailer()
    with caplog.at_level(logging.INFO, logger="papertrend.digest"):
        summary = run(engine, settings, mailer, at(DAY, 8, 5))
    assert mailer.sent == [] and "1 without new papers (no mail)" in summary
    assert "nothing new to send" in caplog.text
    assert [r.status for r in rows(engine)] == ["empty"]
    # Nothing is composed twice for the same day.
    assert "0 due" in run(engine, settings, mailer, at(DAY, 9))


def test_weekly_subscribers_get_the_weeks_best(engine: Engine, settings: Settings) -> None:
    add_papers(
        engine,
        [
            paper("2606.00001", "Monday's big one", day=DAY - timedelta(days=6), upvotes=90),
            paper("2606.00002", "Yesterday's small one", day=DAY - timedelta(days=1), upvotes=5),
            paper("2606.00003", "Today's medium one", day=DAY, upvotes=30),
        ],
    )
    prefs = subs.Preferences(cadence="weekly", send_weekday=DAY.weekday(), send_hour=8)
    add_subscriber(engine, "w@example.org", confirmed_at=at(DAY - timedelta(days=20), 12), prefs=prefs)
    mailer = FakeMailer()
    run(engine, settings, mailer, at(DAY, 8, 5))
    [message] = mailer.sent
    assert ids_in(message) == ["2606.00001", "2606.00003"]  # the week's two most upvoted, best first
    assert "week of Tue 23 Jun" in str(message["Subject"])
    [row] = rows(engine)
    assert row.since == DAY - timedelta(days=7)


def test_temporary_failures_end_in_failed_and_release_the_papers(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tuned(settings, monkeypatch, mail_max_attempts=2)
    add_papers(engine, [paper("2606.00001", "A paper", day=DAY)])
    add_subscriber(engine, "r@example.org", confirmed_at=CONFIRMED)
    mailer = FakeMailer({"r@example.org": [SendError("temporary", "451 later", code=451)] * 2})
    run(engine, settings, mailer, at(DAY, 8, 5))
    assert [(r.status, r.attempts) for r in rows(engine)] == [("retry", 1)]
    run(engine, settings, mailer, at(DAY, 12))
    [row] = rows(engine)
    assert (row.status, row.attempts) == ("failed", 2) and "451" in row.error
    with reading(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(sent_papers)).scalar() == 0


def test_backoff_doubles_up_to_six_hours() -> None:
    assert [backoff(attempts=n, base_seconds=60).total_seconds() for n in (1, 2, 3)] == [60, 120, 240]
    assert backoff(attempts=30, base_seconds=60) == timedelta(hours=6)


def test_an_edition_is_cancelled_when_its_subscriber_leaves_before_it_is_sent(
    engine: Engine, settings: Settings
) -> None:
    add_papers(engine, [paper("2606.00001", "A paper", day=DAY)])
    sub = add_subscriber(engine, "r@example.org", confirmed_at=CONFIRMED)
    # Composed by a dry run? No: compose for real, with a mailer that cannot connect, then leave.
    down = FakeMailer({"r@example.org": [SendError("temporary", "down", connection=True)]})
    run(engine, settings, down, at(DAY, 8, 5))
    assert rows(engine)[0].status == "retry"
    with transaction(engine) as conn:
        subs.unsubscribe(conn=conn, subscription_id=sub.id, now=at(DAY, 9))
    mailer = FakeMailer()
    run(engine, settings, mailer, at(DAY, 12))
    assert mailer.sent == [] and rows(engine)[0].status == "cancelled"


def _sending_row(engine: Engine, *, mid: str, owner: str, lease_until: datetime) -> int:
    sub = add_subscriber(engine, f"{mid.strip('<>').split('@')[0]}@example.org", confirmed_at=CONFIRMED)
    with transaction(engine) as conn:
        return int(
            conn.execute(
                digest_editions.insert()
                .values(
                    subscription_id=sub.id,
                    edition_date=DAY,
                    since=DAY,
                    status="sending",
                    papers={"trending": ["2606.00001"], "for_you": []},
                    message_id=mid,
                    attempts=1,
                    next_attempt_at=at(DAY, 8),
                    lease_owner=owner,
                    lease_until=lease_until,
                    created_at=at(DAY, 8),
                    updated_at=at(DAY, 8),
                )
                .returning(digest_editions.c.id)
            ).scalar_one()
        )


def test_recovery_settles_dead_senders_rows_by_the_journal(engine: Engine, settings: Settings) -> None:
    add_papers(engine, [paper("2606.00001", "A paper", day=DAY)])
    now = at(DAY, 9)
    gone = "elsewhere:1:abc"  # another host: only the lease's expiry says it is gone
    expired = now - timedelta(seconds=1)
    ids = {
        name: _sending_row(engine, mid=f"<{name}@x>", owner=gone, lease_until=expired)
        for name in ("accepted", "handed", "deferred", "prepared", "never")
    }
    alive = _sending_row(engine, mid="<alive@x>", owner=gone, lease_until=now + timedelta(minutes=5))
    journal = Journal(settings.data_dir / "j", clock=lambda: now)
    for mid in ("<accepted@x>", "<handed@x>", "<deferred@x>", "<prepared@x>"):
        journal.write("P", mid)
    journal.write("D", "<accepted@x>")
    journal.write("R", "<accepted@x>", 250)
    journal.write("D", "<handed@x>")
    journal.write("D", "<deferred@x>")
    journal.write("R", "<deferred@x>", 451)
    # Retried after a 451 (P starts a new try); killed before its dot: sent again.
    journal.write("D", "<prepared@x>")
    journal.write("R", "<prepared@x>", 451)
    journal.write("P", "<prepared@x>")
    journal.close()
    report = DeliveryReport()
    with transaction(engine) as conn:
        recover(conn=conn, now=now, mailer=FakeMailer(), journal=journal, policy=Policy(), report=report)
    status = {r.id: (r.status, r.delivery_id) for r in rows(engine)}
    assert status[ids["accepted"]] == ("sent", "recovered:journal")
    assert status[ids["handed"]] == ("sent", "recovered:handed-off")
    assert status[ids["deferred"]][0] == "retry"
    assert status[ids["prepared"]][0] == "retry"
    assert status[ids["never"]][0] == "retry"
    assert status[alive][0] == "sending"  # its lease still runs
    assert report.recovered == {
        "reply 250": 1,
        "handed off": 1,
        "reply 451": 1,
        "prepared, no hand-off": 1,
        "never handed off": 1,
    }


def test_recovery_asks_a_maildir_what_it_holds(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    now = at(DAY, 9)
    dead_pid = f"{HOST}:999999:x"  # this host, a pid that does not exist: dead at once
    there = _sending_row(engine, mid="<there@x>", owner=dead_pid, lease_until=now + timedelta(hours=1))
    missing = _sending_row(engine, mid="<missing@x>", owner=dead_pid, lease_until=now + timedelta(hours=1))
    box = MaildirMailer(tmp_path / "box")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Message-ID"] = "a@x.org", "b@x.org", "<there@x>"
    msg.set_content("hi")
    box.send(msg)
    report = DeliveryReport()
    with transaction(engine) as conn:
        recover(conn=conn, now=now, mailer=box, journal=None, policy=Policy(), report=report)
    status = {r.id: r.status for r in rows(engine)}
    assert status == {there: "sent", missing: "retry"}


def test_owner_liveness() -> None:
    now = at(DAY, 9)
    later = now + timedelta(minutes=5)
    assert owner_gone(None, None, now)
    assert owner_gone(f"{HOST}:{os.getpid()}:x", now - timedelta(seconds=1), now)  # lease over
    assert not owner_gone(f"{HOST}:{os.getpid()}:x", later, now)
    assert owner_gone(f"{HOST}:999999:x", later, now)
    assert not owner_gone("another-host:999999:x", later, now)


def test_a_sender_that_lost_its_lease_does_not_overwrite_the_new_owner(
    engine: Engine, settings: Settings
) -> None:
    now = at(DAY, 9)
    edition = _sending_row(engine, mid="<m@x>", owner="new-owner", lease_until=now + timedelta(minutes=5))
    report = DeliveryReport()
    with transaction(engine) as conn:
        apply(
            conn,
            outcome=Outcome(edition, 1, 1, delivered="x"),
            owner="old-owner",
            now=now,
            policy=Policy(),
            report=report,
        )
    assert report.lost_leases == 1 and rows(engine)[0].status == "sending"


def test_delivered_outcomes_are_recorded_together_and_only_where_still_owned(
    engine: Engine, settings: Settings
) -> None:
    now = at(DAY, 9)
    lease = now + timedelta(minutes=5)
    mine = [_sending_row(engine, mid=f"<mine{i}@x>", owner="me", lease_until=lease) for i in range(3)]
    taken = _sending_row(engine, mid="<taken@x>", owner="new-owner", lease_until=lease)
    refused = _sending_row(engine, mid="<refused@x>", owner="me", lease_until=lease)
    outcomes = [Outcome(e, 1, 1, delivered=f"smtp:Q{e}") for e in [*mine, taken]]
    outcomes.append(Outcome(refused, 1, 1, error=SendError("temporary", "451 later", code=451)))
    report = DeliveryReport()
    with transaction(engine) as conn:
        record(conn, outcomes=outcomes, owner="me", now=now, policy=Policy(), report=report)
    status = {r.id: (r.status, r.delivery_id, r.lease_owner) for r in rows(engine)}
    assert [status[e] for e in mine] == [("sent", f"smtp:Q{e}", None) for e in mine]
    assert status[taken] == ("sending", None, "new-owner")  # the new owner's record stands
    assert status[refused][0] == "retry"
    assert (report.sent, report.retry, report.lost_leases) == (3, 1, 1)


def test_concurrent_runs_send_each_edition_once(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = tuned(settings, monkeypatch, mail_concurrency=2)
    add_papers(engine, [paper("2606.00001", "A paper", day=DAY)])
    for i in range(40):
        add_subscriber(engine, f"r{i}@example.org", confirmed_at=CONFIRMED)
    mailer = FakeMailer()
    threads = [threading.Thread(target=run, args=(engine, settings, mailer, at(DAY, 8, 5))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(str(m["To"]) for m in mailer.sent) == sorted(f"r{i}@example.org" for i in range(40))
    assert {r.status for r in rows(engine)} == {"sent"}


def test_cli_dry_run_and_preview(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    add_papers(engine, [paper("2606.00001", "Agents that simulate people", day=DAY, upvotes=3)])
    add_subscriber(
        engine, "cli@example.org", confirmed_at=CONFIRMED, prefs=subs.Preferences(topics=("agents",))
    )
    runner = CliRunner()
    now = at(DAY, 8, 5).isoformat()
    result = runner.invoke(digest_app, ["run", "--dry-run", "--now", now, "--mode", "keyword"])
    assert result.exit_code == 0, result.output
    assert "1 due, 1 queued" in result.output
    assert rows(engine) == []  # a dry run stores nothing
    out = tmp_path / "preview.html"
    result = runner.invoke(
        digest_app, ["preview", "cli@example.org", "--now", now, "--mode", "keyword", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "Agents that simulate people" in out.read_text() and 'style="' in out.read_text()
    result = runner.invoke(digest_app, ["preview", "cli@example.org", "--now", now, "--mode", "keyword"])
    assert result.exit_code == 0 and "Subject: Trending papers — Tue 23 Jun: Agents" in result.output
    result = runner.invoke(digest_app, ["run", "--now", now, "--mode", "keyword"])
    assert result.exit_code == 0 and "1 sent" in result.output
    assert journal_for(settings).read()  # the maildir backend journaled its delivery
    assert runner.invoke(digest_app, ["preview", "nobody@example.org"]).exit_code == 1


def test_a_sender_keeps_papers_between_batches_only_while_unchanged(engine: Engine) -> None:
    """Batches share most of their papers, so the sender keeps them (#13); a paper changed since is
    read again, and one deleted since is left out of the message."""
    from papertrend.digest.records import Claimed, Composed
    from papertrend.digest.sender import _papers_of
    from papertrend.papers.models import Paper
    from papertrend.papers.tables import papers

    add_papers(engine, [paper("2606.00001", "First title", day=DAY), paper("2606.00002", "Other", day=DAY)])
    sub = add_subscriber(engine, "keep@example.org", confirmed_at=CONFIRMED)
    batch = [Claimed(1, sub, DAY, Composed(trending=("2606.00001", "2606.00002")), "<m@x>", 0, CONFIRMED)]
    kept: dict[str, Paper] = {}
    first = _papers_of(engine, batch, kept)
    assert first["2606.00001"].title == "First title" and set(kept) == {"2606.00001", "2606.00002"}
    assert _papers_of(engine, batch, kept)["2606.00001"] is first["2606.00001"]  # unchanged: kept
    add_papers(
        engine, [paper("2606.00001", "Second title", day=DAY)], now=datetime.now(UTC) + timedelta(hours=1)
    )
    with transaction(engine) as conn:
        conn.execute(sa.delete(papers).where(papers.c.id == "2606.00002"))
    again = _papers_of(engine, batch, kept)
    assert again["2606.00001"].title == "Second title" and "2606.00002" not in again
