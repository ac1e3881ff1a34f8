"""Migrations and the schema in schema.py agree, and the SQLite pragmas are on (issue #2)."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.schema import metadata


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


def test_sqlite_pragmas(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
