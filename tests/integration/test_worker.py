"""The periodic jobs (issue #4): ingest of recent days and feeds, embedding, the purge of expired
sign-in rows, and the loop itself."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend import ratelimit
from papertrend.accounts import repository as accounts_repo
from papertrend.accounts.tables import login_tokens, sessions
from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.papers import repository
from papertrend.ratelimit import rate_limits
from papertrend.worker import Job, default_jobs, ingest_recent, purge_expired, run_loop
from tests.replay import ReplayServer

RSS = "arxiv_api_fixtures/rss/rss_arxiv_org_2026-04-27"


def test_ingest_recent_reads_hf_days_and_arxiv_feeds(
    settings: Settings, engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/api/daily_papers", fixture_data / "hf_daily_papers/samples/2026-08-21.json")
    for cat in ("ai", "cl", "lg"):
        replay.add(f"/rss/cs.{cat.upper()}", fixture_data / RSS / f"arxiv_cs_{cat}.xml")
    local = settings.model_copy(
        update={
            "hf_base_url": replay.url,
            "arxiv_rss_url": f"{replay.url}/rss",
            "rss_categories": ["cs.AI", "cs.CL", "cs.LG"],
        }
    )
    summary = ingest_recent(settings=local, engine=engine)
    assert "hf-daily: 17 added" in summary and "arxiv-rss: 9 added" in summary
    assert [r.query["date"] for r in replay.requests if r.path == "/api/daily_papers"] == sorted(
        r.query["date"] for r in replay.requests if r.path == "/api/daily_papers"
    )
    with reading(engine) as conn:
        assert repository.count(conn=conn) == 26


def test_ingest_recent_offline_reports_and_does_not_raise(settings: Settings, engine: Engine) -> None:
    local = settings.model_copy(
        update={
            "hf_base_url": "http://127.0.0.1:9",
            "arxiv_rss_url": "http://127.0.0.1:9/rss",
            "http_retries": 0,
        }
    )
    summary = ingest_recent(settings=local, engine=engine)
    assert summary.count("connection failed") == 2


def test_purge_job_deletes_expired_sign_in_rows_and_keeps_live_ones(
    settings: Settings, engine: Engine
) -> None:
    now = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    with transaction(engine) as conn:
        user = accounts_repo.user_for_login(conn=conn, email="reader@example.org", now=now - 40 * 24 * hour)
        for name, expires in (("link-old", now - hour), ("link-live", now + hour)):
            accounts_repo.add_login_token(
                conn=conn,
                token_hash=name,
                email=user.email,
                next_path=None,
                now=now - 2 * hour,
                expires_at=expires,
            )
        for name, expires in (("session-old", now - hour), ("session-live", now + 24 * hour)):
            accounts_repo.add_session(
                conn=conn, token_hash=name, user_id=user.id, now=now - 30 * 24 * hour, expires_at=expires
            )
        for key, started in (("login:ip:old", now - 25 * hour), ("login:ip:live", now - 0.5 * hour)):
            assert ratelimit.allow(conn=conn, key=key, limit=5, window=hour, now=started)

    summary = purge_expired(engine=engine, now=now)

    assert summary == "2 expired sign-in links and sessions, 1 stale rate-limit counters deleted"
    with reading(engine) as conn:
        assert conn.scalars(sa.select(login_tokens.c.token_hash)).all() == ["link-live"]
        assert conn.scalars(sa.select(sessions.c.token_hash)).all() == ["session-live"]
        assert conn.scalars(sa.select(rate_limits.c.key)).all() == ["login:ip:live"]
        # The live session still signs its user in.
        assert accounts_repo.session_user(conn=conn, token_hash="session-live", now=now) == user
    assert purge_expired(engine=engine, now=now).startswith("0 expired")  # nothing left to do


def test_purge_is_on_the_worker_schedule_hourly(settings: Settings, engine: Engine) -> None:
    jobs = {job.name: job for job in default_jobs(settings=settings, engine=engine)}
    assert jobs["purge"].every == timedelta(hours=1)
    assert jobs["purge"].run().startswith("0 expired sign-in links and sessions")


def test_loop_runs_due_jobs_survives_failures_and_stops() -> None:
    stop = threading.Event()
    ran: list[str] = []

    def ok() -> str:
        ran.append("ok")
        if ran.count("ok") >= 3:
            stop.set()
        return "fine"

    def boom() -> str:
        ran.append("boom")
        raise RuntimeError("upstream down")

    t = [0.0]

    def clock() -> float:
        t[0] += 60.0  # each look at the clock is a minute later, so the loop never sleeps long
        return t[0]

    jobs = [Job("ok", timedelta(minutes=1), ok), Job("boom", timedelta(hours=1), boom)]
    worker = threading.Thread(target=run_loop, args=(jobs,), kwargs={"stop": stop, "clock": clock})
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert ran.count("ok") == 3 and ran.count("boom") == 1


@pytest.mark.parametrize("interval", [0])
def test_interval_setting_is_validated(monkeypatch: pytest.MonkeyPatch, interval: int) -> None:
    monkeypatch.setenv("PAPERTREND_INGEST_INTERVAL_MINUTES", str(interval))
    with pytest.raises(ValueError):
        Settings()


def test_a_busy_job_runs_again_at_once_and_yields_to_others_between_runs() -> None:
    stop = threading.Event()
    ran: list[str] = []
    backlog = [3]

    def embed() -> str:
        ran.append("embed")
        backlog[0] -= 1
        if backlog[0] == 0:
            stop.set()
        return "a slice"

    def other() -> str:
        ran.append("other")
        return "fine"

    t = [0.0]

    def clock() -> float:
        t[0] += 1.0  # a second per look: an hourly job is due once, unless it says it is busy
        return t[0]

    jobs = [
        Job("embed", timedelta(hours=1), embed, shared=True, busy=lambda: backlog[0] > 0),
        Job("other", timedelta(hours=1), other),
    ]
    worker = threading.Thread(target=run_loop, args=(jobs,), kwargs={"stop": stop, "clock": clock})
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive()
    assert ran == ["embed", "other", "embed", "embed"]


def test_the_embed_job_is_shared_and_reruns_while_papers_wait(settings: Settings, engine: Engine) -> None:
    jobs = {job.name: job for job in default_jobs(settings=settings, engine=engine)}
    assert jobs["embed"].shared and jobs["embed"].busy is not None and not jobs["embed"].busy()
