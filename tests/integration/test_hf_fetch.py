"""`hf-daily` against a real local HTTP server replaying recorded API responses (issue #2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.ingest.cursors import get_cursor
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.hf_daily import HfDailySource
from papertrend.papers.tables import papers
from tests.replay import ReplayServer, Reply

SAMPLES = "hf_daily_papers/samples"


def _client(sleeps: list[float] | None = None, **kw: object) -> PoliteClient:
    record = sleeps if sleeps is not None else []
    return PoliteClient(user_agent="Papertrend-test/1 (+http://127.0.0.1)", sleep=record.append, **kw)  # type: ignore[arg-type]


def _count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())


def test_days_are_fetched_with_user_agent_and_cursor(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/api/daily_papers", fixture_data / SAMPLES / "2025-06-13.json", query={"date": "2025-06-13"})
    replay.add("/api/daily_papers", b"[]", query={"date": "2025-06-14"})
    src = HfDailySource(client=_client(), base_url=replay.url, days=[date(2025, 6, 13), date(2025, 6, 14)])
    report = run_ingest(engine=engine, source=src)
    assert report.ok and report.added == 26
    assert [r.query["date"] for r in replay.requests] == ["2025-06-13", "2025-06-14"]
    assert replay.requests[0].headers["User-Agent"].startswith("Papertrend-test/1")
    with engine.connect() as conn:
        assert get_cursor(conn=conn, source="hf-daily", key="daily") == {"date": "2025-06-14"}


def test_503_with_retry_after_is_waited_out(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    replay.add(
        "/api/daily_papers",
        Reply(b"busy", status=503, headers={"Retry-After": "7"}),
        fixture_data / SAMPLES / "2026-08-21.json",
    )
    sleeps: list[float] = []
    src = HfDailySource(client=_client(sleeps), base_url=replay.url, days=[date(2026, 8, 21)])
    report = run_ingest(engine=engine, source=src)
    assert report.ok and report.added == 17
    assert sleeps == [7.0]
    assert len(replay.requests) == 2


def test_malformed_day_fails_the_run_and_keeps_earlier_days(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/api/daily_papers", fixture_data / SAMPLES / "2024-05-27.json", query={"date": "2024-05-27"})
    replay.add("/api/daily_papers", b'[{"paper": {"id": "2405.1', query={"date": "2024-05-28"})
    src = HfDailySource(client=_client(), base_url=replay.url, days=[date(2024, 5, 27), date(2024, 5, 28)])
    report = run_ingest(engine=engine, source=src)
    assert not report.ok and "malformed JSON" in (report.error or "")
    assert "date=2024-05-28" in (report.error or "")
    assert _count(engine) == 13
    with engine.connect() as conn:
        assert get_cursor(conn=conn, source="hf-daily", key="daily") == {"date": "2024-05-27"}


def test_client_errors_are_not_retried(engine: Engine, replay: ReplayServer) -> None:
    replay.add("/api/daily_papers", Reply(b'{"error":"Invalid date"}', status=400))
    src = HfDailySource(client=_client(), base_url=replay.url, days=[date(2030, 1, 1)])
    report = run_ingest(engine=engine, source=src)
    assert not report.ok and "HTTP 400" in (report.error or "")
    assert len(replay.requests) == 1


def test_hanging_server_times_out(engine: Engine, replay: ReplayServer) -> None:
    replay.add("/api/daily_papers", Reply(b"[]", delay=3))
    src = HfDailySource(client=_client(timeout=0.3, retries=1), base_url=replay.url, days=[date(2026, 1, 1)])
    report = run_ingest(engine=engine, source=src)
    assert not report.ok and "timed out" in (report.error or "") and "2 tries" in (report.error or "")


def test_server_down_is_a_clear_failure(engine: Engine) -> None:
    src = HfDailySource(client=_client(retries=0), base_url="http://127.0.0.1:9", days=[date(2026, 1, 1)])
    report = run_ingest(engine=engine, source=src)
    assert not report.ok and "connection failed" in (report.error or "")


def test_month_is_paged(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    import orjson

    items = orjson.loads((fixture_data / "hf_daily_papers/samples/2025-06-13.json").read_bytes())
    # Page 0 full (100 items, the 26 real ones repeated), page 1 short: paging must stop there.
    replay.add("/api/daily_papers", orjson.dumps((items * 4)[:100]), query={"month": "2025-06", "p": "0"})
    replay.add("/api/daily_papers", orjson.dumps(items[:3]), query={"month": "2025-06", "p": "1"})
    src = HfDailySource(client=_client(), base_url=replay.url, month="2025-06")
    report = run_ingest(engine=engine, source=src)
    assert report.ok and _count(engine) == 26
    assert [r.query.get("p") for r in replay.requests] == ["0", "1"]
