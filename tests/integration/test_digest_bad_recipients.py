"""One recipient address that can never be written never stops a `digest run` (issue #12 item 2).

Addresses stored before the normaliser refused them (a non-ASCII local part, an RFC 2047 encoded
word) once raised UnicodeEncodeError out of smtplib: every `digest run` exited 1 with a traceback and
left the edition `sending` forever. Now the run, a real process against a real SMTP server (aiosmtpd
on 127.0.0.1), delivers the other 99, records the one `failed` with its reason, and exits 0.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest.tables import digest_editions, subscriptions, suppressions
from tests.digest_support import SmtpSink, add_papers, add_subscribers, at, digest_run_command, paper

DAY = date(2026, 6, 23)
CONFIRMED = at(DAY - timedelta(days=2), 12)
NOW = at(DAY, 8, 5)


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


@pytest.mark.parametrize(
    "stored",
    ["ü@exämple.org", "user@exämple.org", "=?utf-8?q?a=40evil.org=2C_b3?=@example.org"],
)
def test_one_unwritable_recipient_among_100_is_failed_and_the_run_goes_on(
    engine: Engine, settings: Settings, sink: SmtpSink, stored: str
) -> None:
    add_papers(engine, [paper(f"2606.{i:05d}", f"Paper number {i}", day=DAY, upvotes=i) for i in range(1, 6)])
    subs = add_subscribers(engine, 100, confirmed_at=CONFIRMED)
    bad = subs[42]
    with transaction(engine) as conn:  # as stored before today's rules
        conn.execute(
            subscriptions.update()
            .where(subscriptions.c.id == bad.id)
            .values(email=stored, email_key=stored.lower())
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=settings.database_url,
        PAPERTREND_DATA_DIR=str(settings.data_dir),
        PAPERTREND_MAIL_URL=sink.url,
        PAPERTREND_MAIL_RATE="0",
    )
    cmd = digest_run_command(NOW)
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr

    assert len(sink.received) == 99
    assert sorted(r for m in sink.received for r in m.rcpt_tos) == sorted(
        s.email for s in subs if s.id != bad.id
    )
    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(digest_editions.c.subscription_id, digest_editions.c.status, digest_editions.c.error)
        ).all()
        status = conn.execute(sa.select(subscriptions.c.status).where(subscriptions.c.id == bad.id)).scalar()
        reasons = conn.execute(sa.select(suppressions.c.reason)).scalars().all()
    by_status = {row.status for row in rows if row.subscription_id != bad.id}
    assert by_status == {"sent"} and len(rows) == 100
    [failed] = [row for row in rows if row.subscription_id == bad.id]
    assert failed.status == "failed"
    assert failed.error and repr(stored) in failed.error
    # Never tried again: the address is suppressed, so no later edition is composed for it.
    assert status == "bounced" and reasons == ["invalid_address"]
