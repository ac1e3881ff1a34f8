"""Several `papertrend worker` processes on one database (issue #6): the hourly ingest runs once,
and when the worker running it is killed mid-job another takes it over once the lease expires.
Real processes, a real database (SQLite or PostgreSQL, per --db) and a local upstream."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.ingest.tables import ingest_runs
from papertrend.leases import job_leases
from papertrend.papers.tables import papers
from papertrend.search.tables import embed_claims, embeddings
from tests.integration.helpers import wait_for
from tests.replay import ReplayServer, Reply

RSS = "arxiv_api_fixtures/rss/rss_arxiv_org_2026-04-27/arxiv_cs_ai.xml"
HF_DAY = "hf_daily_papers/samples/2026-08-21.json"
API_ANSWER = (
    "arxiv_api_fixtures/api_atom/recorded_2026_arxiv_py/id_2104.12255v1_s0_m100_6ae69987ffe1.body.xml"
)
LEASE_SECONDS = 5


@pytest.fixture
def start_worker(
    settings: Settings, replay: ReplayServer, tmp_path: Path
) -> Iterator[Callable[[str], subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []

    def start(name: str) -> subprocess.Popen[bytes]:
        env = {
            **os.environ,
            "PAPERTREND_DATABASE_URL": settings.database_url,
            "PAPERTREND_DATA_DIR": str(tmp_path / name),  # each worker as if on its own machine
            "PAPERTREND_HF_BASE_URL": replay.url,
            "PAPERTREND_ARXIV_RSS_URL": f"{replay.url}/rss",
            # The categories job looks HF papers up in arXiv's API (#14): here, not on the network.
            # With the default address the workers' lookups failed and retried for ~15 s first, and
            # under load the embed job had not run by the end of the test (fresh-clone suite, load 13).
            "PAPERTREND_ARXIV_API_URL": f"{replay.url}/api/query",
            "PAPERTREND_ARXIV_API_INTERVAL": "0",
            "PAPERTREND_RSS_CATEGORIES": '["cs.AI"]',
            "PAPERTREND_EMBEDDING_MODEL": "wordllama",
            "PAPERTREND_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
        }
        log = (tmp_path / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            [sys.executable, "-c", "from papertrend.cli import main; main()", "worker"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=30)


def _ingest_lease(engine: Engine) -> sa.Row[tuple[object, ...]] | None:
    with reading(engine) as conn:
        return conn.execute(sa.select(job_leases).where(job_leases.c.name == "ingest")).first()


def _runs(engine: Engine) -> dict[str, int]:
    with reading(engine) as conn:
        rows = conn.execute(sa.select(ingest_runs.c.source, sa.func.count()).group_by(ingest_runs.c.source))
        return {source: int(n) for source, n in rows}


def test_ingest_runs_once_and_survives_a_killed_worker(
    engine: Engine,
    replay: ReplayServer,
    fixture_data: Path,
    start_worker: Callable[[str], subprocess.Popen[bytes]],
    tmp_path: Path,
) -> None:
    day = (fixture_data / HF_DAY).read_bytes()
    # The first answer stalls, so the first worker is surely mid-job when it is killed.
    replay.add("/api/daily_papers", Reply(day, delay=30), Reply(day))
    replay.add("/rss/cs.AI", fixture_data / RSS)
    replay.add("/api/query", fixture_data / API_ANSWER)  # a recorded answer for any lookup

    first = start_worker("first")
    wait_for("the first worker to take the ingest", lambda: bool(replay.requests))
    lease = _ingest_lease(engine)
    assert lease is not None and str(lease.owner).split(":")[1] == str(first.pid)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    killed_at = time.monotonic()

    second, third = start_worker("second"), start_worker("third")

    def finished() -> bool:
        row = _ingest_lease(engine)
        return row is not None and row.finished_at is not None and row.owner is None

    wait_for("another worker to finish the ingest", finished)
    taken_over = time.monotonic() - killed_at
    done = _ingest_lease(engine)
    assert done is not None and done.ok is True
    assert taken_over >= LEASE_SECONDS - 1  # not before the dead worker's lease ran out
    assert _runs(engine) == {"hf-daily": 1, "arxiv-rss": 1}

    # Both live workers keep looping (every lease period they ask again): nobody ingests twice
    # within the hour.
    time.sleep(2.5 * LEASE_SECONDS)
    assert second.poll() is None and third.poll() is None
    assert _runs(engine) == {"hf-daily": 1, "arxiv-rss": 1}
    again = _ingest_lease(engine)
    assert again is not None and again.started_at == done.started_at
    # The embedding job ran too, in the live workers side by side (it takes no lease, #15): every
    # paper has its one vector and no claim is left.
    with reading(engine) as conn:
        n_papers = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
        n_vectors = conn.execute(sa.select(sa.func.count()).select_from(embeddings)).scalar_one()
        n_claims = conn.execute(sa.select(sa.func.count()).select_from(embed_claims)).scalar_one()
        embed_lease = conn.execute(sa.select(job_leases).where(job_leases.c.name == "embed")).first()
    assert n_papers > 0 and n_vectors <= n_papers and n_claims == 0
    assert embed_lease is None
    for name in ("second", "third"):
        log = (tmp_path / f"{name}.log").read_text()
        assert "job embed: embed wordllama:" in log, name
        assert "arxiv.org" not in log, name  # no worker reached for the network
