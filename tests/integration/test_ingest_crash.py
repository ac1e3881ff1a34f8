"""Crash safety: SIGKILL an `ingest jsonl` of the 74,728-paper file part-way, run it again, and compare
with a clean run — same rows, same content, and the rerun resumes instead of starting over (issue #2)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from papertrend.db import create_engine
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from tests.integration.helpers import dump_papers

LISTING = "arxiv_metadata/arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz"
TOTAL = 74_728


def _count(db: Path) -> int:
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM papers").fetchone()[0])
    except sqlite3.OperationalError:  # not created or not migrated yet
        return 0


def _ingest_killed_at(db: Path, path: Path, at_least: int) -> int:
    """Start the CLI in a real process, SIGKILL it once `at_least` papers are stored; return the count."""
    env = {**os.environ, "PAPERTREND_DATABASE_URL": f"sqlite:///{db}", "PAPERTREND_ENV": "test"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "papertrend", "ingest", "jsonl", str(path)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    try:
        while _count(db) < at_least:
            assert proc.poll() is None, "ingest finished before it could be killed"
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    return _count(db)


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, object]]:
    path = Path(__file__).resolve().parents[3] / "shared" / "data" / LISTING
    engine = create_engine(f"sqlite:///{tmp_path_factory.mktemp('clean') / 'clean.db'}")
    upgrade(engine)
    report = run_ingest(engine=engine, source=JsonlSource(path=path))
    assert report.ok and report.added == TOTAL
    return dump_papers(engine)


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [9_000, 50_000])
def test_sigkill_then_rerun_equals_a_clean_run(
    tmp_path: Path, shared_data: Path, clean_run: dict[str, dict[str, object]], kill_after: int
) -> None:
    db = tmp_path / "killed.db"
    stored = _ingest_killed_at(db, shared_data / LISTING, kill_after)
    assert kill_after <= stored < TOTAL
    engine = create_engine(f"sqlite:///{db}")
    report = run_ingest(engine=engine, source=JsonlSource(path=shared_data / LISTING))
    assert report.ok
    # Resumed from the saved cursor: nothing stored before the kill is read again, nothing is lost.
    assert (report.added, report.updated, report.unchanged) == (TOTAL - stored, 0, 0)
    assert dump_papers(engine) == clean_run
