"""Migrations and the schema in schema.py agree (issues #2, #6), and each database's own settings are on:
SQLite's pragmas; PostgreSQL's pgvector column and weighted tsvector keyword index."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.db import transaction
from papertrend.schema import embeddings, metadata, papers


def test_migrated_database_matches_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": migrate.include_name})
        diff = compare_metadata(context, metadata)
    assert diff == []
    assert migrate.current(engine) is not None


def test_upgrade_is_idempotent(engine: Engine) -> None:
    before = migrate.current(engine)
    migrate.upgrade(engine)
    assert migrate.current(engine) == before


def test_vectors_round_trip_exactly(engine: Engine) -> None:
    """The embeddings column gives back the float32 bytes it was given, blob or pgvector (issue #6)."""
    now = datetime(2026, 11, 27, tzinfo=UTC)
    vec = np.random.default_rng(6).standard_normal(384).astype("<f4")
    with transaction(engine) as conn:
        pk = conn.execute(
            papers.insert().returning(papers.c.pk),
            dict(id="2611.00001", title="t", authors=[], categories=[], sources=[], first_seen_at=now,
                 changed_at=now),
        ).scalar_one()  # fmt: skip
        conn.execute(embeddings.insert(), dict(model="m", paper_pk=pk, vector=vec.tobytes(), created_at=now))
    with engine.connect() as conn:
        stored = conn.execute(sa.select(embeddings.c.vector)).scalar_one()
    assert isinstance(stored, bytes)
    assert stored == vec.tobytes()


@pytest.mark.postgres_only
def test_postgres_vector_column_and_weighted_tsvector(engine: Engine) -> None:
    """pgvector stores the vectors; the generated tsvector weighs title A, abstract B, authors C."""
    now = datetime(2026, 11, 27, tzinfo=UTC)
    with transaction(engine) as conn:
        conn.execute(
            papers.insert(),
            dict(id="2611.00002", title="Gaussian splatting", abstract="Neural rendering of scenes.",
                 authors=["Ada Lovelace", "Alan Turing"], categories=[], sources=[], first_seen_at=now,
                 changed_at=now),
        )  # fmt: skip
    with engine.connect() as conn:
        coltype = conn.exec_driver_sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'embeddings'::regclass AND attname = 'vector'"
        ).scalar_one()
        tsv = conn.exec_driver_sql("SELECT search_tsv::text FROM papers").scalar_one()
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM papers WHERE search_tsv @@ to_tsquery('english', 'splat & render')"
        ).scalar_one()
        index = conn.exec_driver_sql(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_papers_search_tsv'"
        ).scalar_one()
    assert coltype == "vector"
    # Title A and abstract B stemmed as English; author names C, whole ("lovelace", not "lovelac").
    assert {"'splat':2A", "'render':4B", "'lovelace':8C", "'turing':11C"} <= set(tsv.split())
    assert found == 1
    assert "gin (search_tsv)" in index


@pytest.mark.sqlite_only
def test_sqlite_pragmas(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
