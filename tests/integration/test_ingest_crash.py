"""Crash safety: SIGKILL an `ingest jsonl` of the 74,728-paper file part-way, run it again, and compare
with a clean run — same rows, same content, and the rerun resumes instead of starting over (issue #2).
On the run's database: SQLite, or PostgreSQL with `--db=postgres` (issue #6)."""

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

from papertrend.db import create_engine, reading
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from tests.integration.helpers import CLOCK_COLUMNS, dump_papers
from tests.pgcluster import Cluster

LISTING = "arxiv_metadata/arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz"
TOTAL = 74_728
# `pk` is left out too: PostgreSQL sequences are not transactional, so the batch the kill rolled back
# still used up its numbers and the rerun's keys have a gap there. Ids and content must match exactly.
IGNORE = (*CLOCK_COLUMNS, "pk")


def _count(engine: Engine) -> int:
    try:
        with reading(engine) as conn:
            return int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    except sa.exc.DBAPIError:  # not migrated yet
        return 0


def _ingest_killed_at(url: str, path: Path, at_least: int) -> int:
    """Start the CLI in a real process, SIGKILL it once `at_least` papers are stored; return the count."""
    env = {**os.environ, "PAPERTREND_DATABASE_URL": url, "PAPERTREND_ENV": "test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "papertrend", "ingest", "jsonl", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    engine = create_engine(url)
    try:
        while _count(engine) < at_least:
            assert proc.poll() is None, "ingest finished before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    try:
        return _count(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def clean_run(
    tmp_path_factory: pytest.TempPathFactory, pg_cluster: Cluster | None
) -> Iterator[dict[str, dict[str, object]]]:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / LISTING
    if pg_cluster is None:
        url = f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}"
    else:
        url = pg_cluster.create_database()
    engine = create_engine(url)
    upgrade(engine)
    report = run_ingest(engine=engine, source=JsonlSource(path=path))
    assert report.ok and report.added == TOTAL
    yield dump_papers(engine, ignore=IGNORE)
    engine.dispose()
    if pg_cluster is not None:
        pg_cluster.drop(str(sa.make_url(url).database))


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [9_000, 50_000])
def test_sigkill_then_rerun_equals_a_clean_run(
    new_database_url: Callable[[str], str],
    shared_data: Path,
    clean_run: dict[str, dict[str, object]],
    kill_after: int,
) -> None:
    url = new_database_url("killed")
    stored = _ingest_killed_at(url, shared_data / LISTING, kill_after)
    assert kill_after <= stored < TOTAL
    engine = create_engine(url)
    report = run_ingest(engine=engine, source=JsonlSource(path=shared_data / LISTING))
    assert report.ok
    # Resumed from the saved cursor: nothing stored before the kill is read again, nothing is lost.
    assert (report.added, report.updated, report.unchanged) == (TOTAL - stored, 0, 0)
    assert dump_papers(engine, ignore=IGNORE) == clean_run
    engine.dispose()
