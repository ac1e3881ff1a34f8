"""The ingest room's tables: where each source stopped, and a log of runs (issue #2)."""

from __future__ import annotations

import sqlalchemy as sa

from papertrend.sql import UTCDateTime, metadata

# Where each source stopped, saved in the same transaction as the batch it covers (issue #2).
ingest_cursors = sa.Table(
    "ingest_cursors",
    metadata,
    sa.Column("source", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(512), primary_key=True),
    sa.Column("value", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime(), nullable=False),
)

# One row per finished ingest run: what `stats` and /healthz report.
ingest_runs = sa.Table(
    "ingest_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("source", sa.String(64), nullable=False),
    sa.Column("started_at", UTCDateTime(), nullable=False),
    sa.Column("finished_at", UTCDateTime(), nullable=False),
    sa.Column("ok", sa.Boolean, nullable=False),
    sa.Column("added", sa.Integer, nullable=False),
    sa.Column("updated", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
    sa.Column("rejected", sa.Integer, nullable=False),
    sa.Column("error", sa.Text, nullable=True),
)
sa.Index("ix_ingest_runs_source_finished", ingest_runs.c.source, ingest_runs.c.finished_at)
