"""The periodic jobs (issue #4): ingest of recent days and feeds, embedding, and the loop itself."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.papers import repository
from papertrend.worker import Job, ingest_recent, run_loop
from tests.replay import ReplayServer

RSS = "arxiv_api_fixtures/rss/rss_arxiv_org_2026-04-27"


def test_ingest_recent_reads_hf_days_and_arxiv_feeds(
    settings: Settings, engine: Engine, replay: ReplayServer, shared_data: Path
) -> None:
    replay.add("/api/daily_papers", shared_data / "hf_daily_papers/samples/2026-08-21.json")
    for cat in ("ai", "cl", "lg"):
        replay.add(f"/rss/cs.{cat.upper()}", shared_data / RSS / f"arxiv_cs_{cat}.xml")
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
