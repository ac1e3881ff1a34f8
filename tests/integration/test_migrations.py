"""Migrations and the schema in schema.py agree (issues #2, #6), and each database's own settings are on:
SQLite's pragmas; PostgreSQL's pgvector column; the databases' old keyword indexes, gone at 0017."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.db import create_engine, transaction
from papertrend.dbcopy import head_revision
from papertrend.papers.tables import papers
from papertrend.schema import metadata
from papertrend.search.tables import embeddings
from tests.pgcluster import Cluster


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
def test_postgres_vector_column(engine: Engine) -> None:
    with engine.connect() as conn:
        coltype = conn.exec_driver_sql(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
            "WHERE attrelid = 'embeddings'::regclass AND attname = 'vector'"
        ).scalar_one()
    assert coltype == "vector"


def _database_keyword_index(engine: Engine) -> int | None:
    """Papers the database's own keyword index (FTS5, or the tsvector and its postings) holds for
    'splat', or None when the index is not there (migration 0017 drops it for tantivy, #15)."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            found = conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name LIKE 'papers_fts%'")
            if not found.scalar_one():
                return None
            return int(
                conn.exec_driver_sql(
                    "SELECT count(*) FROM papers_fts WHERE papers_fts MATCH 'splat'"
                ).scalar_one()
            )
        if conn.exec_driver_sql("SELECT to_regclass('keyword_postings')").scalar() is None:
            return None
        matching = conn.exec_driver_sql(
            "SELECT count(*) FROM papers WHERE search_tsv @@ to_tsquery('english', 'splat & render')"
        ).scalar_one()
        postings = conn.exec_driver_sql("SELECT docs FROM keyword_stats").scalar_one()
        assert postings == matching
        return int(matching)


def test_the_databases_keyword_index_goes_at_0017_and_comes_back_on_downgrade(engine: Engine) -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    with transaction(engine) as conn:
        conn.execute(
            papers.insert(),
            dict(id="2611.00002", title="Gaussian splatting", abstract="Neural rendering of scenes.",
                 authors=["Ada Lovelace", "Alan Turing"], categories=[], sources=[], first_seen_at=now,
                 changed_at=now),
        )  # fmt: skip
    assert _database_keyword_index(engine) is None
    cfg = migrate.alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0016")
        conn.commit()
    assert _database_keyword_index(engine) == 1  # rebuilt from the papers
    migrate.upgrade(engine)
    assert _database_keyword_index(engine) is None


def test_0018_keeps_only_arxiv_categories_and_leaves_changed_at(engine: Engine) -> None:
    now = datetime(2026, 11, 27, tzinfo=UTC)
    mixed = ["eess.IV", "cs.AI", "94A29, 94A08, 68T01", "I.4.2; E.4; I.2.10", "cs.CV, cs.MM", "na"]
    cfg = migrate.alembic_config()
    with engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0017")
        conn.commit()
    with transaction(engine) as conn:
        for n, categories in enumerate((mixed, ["hep-th"], []), start=3):
            conn.execute(
                papers.insert(),
                dict(id=f"2611.0000{n}", title="t", authors=[], categories=categories, sources=[],
                     first_seen_at=now, changed_at=now),
            )  # fmt: skip
    migrate.upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(papers.c.categories, papers.c.changed_at).order_by(papers.c.id)).all()
    assert [r.categories for r in rows] == [["eess.IV", "cs.AI", "cs.CV", "cs.MM"], ["hep-th"], []]
    assert {r.changed_at.replace(tzinfo=UTC) for r in rows} == {now}


@pytest.mark.sqlite_only
def test_sqlite_pragmas(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000


def test_processes_starting_together_migrate_once(pg_cluster: Cluster | None, tmp_path: Path) -> None:
    """N web and M worker processes all migrate on start (issue #6): on an empty database they queue,
    one migrates and the rest find nothing to do, rather than racing to create the same tables."""
    if pg_cluster is None:
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
    else:
        name = f"papertrend_fresh_{uuid.uuid4().hex[:12]}"
        with pg_cluster.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        url = pg_cluster.url(name)
    env = {**os.environ, "PAPERTREND_DATABASE_URL": url, "PAPERTREND_DATA_DIR": str(tmp_path)}
    command = [sys.executable, "-c", "from papertrend.cli import main; main()", "db", "upgrade"]
    procs = [
        subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for _ in range(3)
    ]
    outputs = [p.communicate(timeout=180)[0].decode() for p in procs]
    engine = create_engine(url)
    try:
        failed = [out for proc, out in zip(procs, outputs, strict=True) if proc.returncode]
        assert failed == []
        assert migrate.current(engine) == head_revision()
    finally:
        engine.dispose()
        if pg_cluster is not None:
            pg_cluster.drop(str(sa.make_url(url).database))
