"""Where each source stopped. Saved by the caller in the same transaction as the batch it covers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.ingest.tables import ingest_cursors


def get_cursor(*, conn: Connection, source: str, key: str) -> dict[str, Any] | None:
    """The saved cursor of (source, key), or None."""
    value = conn.execute(
        sa.select(ingest_cursors.c.value).where(
            ingest_cursors.c.source == source, ingest_cursors.c.key == key
        )
    ).scalar()
    return dict(value) if value is not None else None


def save_cursor(*, conn: Connection, source: str, key: str, value: dict[str, Any], now: datetime) -> None:
    """Insert or replace the cursor of (source, key)."""
    updated = conn.execute(
        ingest_cursors.update()
        .where(ingest_cursors.c.source == source, ingest_cursors.c.key == key)
        .values(value=value, updated_at=now)
    )
    if updated.rowcount == 0:
        conn.execute(ingest_cursors.insert().values(source=source, key=key, value=value, updated_at=now))


def delete_cursor(*, conn: Connection, source: str, key: str) -> None:
    """Forget the cursor of (source, key)."""
    conn.execute(
        ingest_cursors.delete().where(ingest_cursors.c.source == source, ingest_cursors.c.key == key)
    )
