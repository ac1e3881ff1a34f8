"""The log of ingest runs: one row per run, written when it ends, read by `papertrend stats`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.ingest.tables import ingest_runs


def record(
    *,
    conn: Connection,
    source: str,
    started_at: datetime,
    finished_at: datetime,
    ok: bool,
    added: int,
    updated: int,
    unchanged: int,
    rejected: int,
    error: str | None,
) -> None:
    """Log one finished run."""
    conn.execute(
        ingest_runs.insert().values(
            source=source,
            started_at=started_at,
            finished_at=finished_at,
            ok=ok,
            added=added,
            updated=updated,
            unchanged=unchanged,
            rejected=rejected,
            error=error,
        )
    )


def recent(*, conn: Connection, limit: int = 10) -> list[sa.RowMapping]:
    """The last `limit` runs, newest first."""
    rows: Any = conn.execute(
        sa.select(ingest_runs).order_by(ingest_runs.c.finished_at.desc()).limit(limit)
    ).mappings()
    return list(rows)
