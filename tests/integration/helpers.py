"""Helpers for integration tests: dump a database's content for comparison."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.papers.tables import papers

# Wall-clock bookkeeping that legitimately differs between two runs of the same ingest.
CLOCK_COLUMNS = ("first_seen_at", "changed_at")


def dump_papers(engine: Engine, *, ignore: tuple[str, ...] = CLOCK_COLUMNS) -> dict[str, dict[str, Any]]:
    cols = [c for c in papers.columns if c.name not in ignore]
    with engine.connect() as conn:
        return {r["id"]: dict(r) for r in conn.execute(sa.select(*cols).order_by(papers.c.id)).mappings()}


def wait_for(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    """Poll `check` until it holds; fail the test, naming `what`, after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)
