"""Apply the Alembic migrations shipped inside the package (`papertrend db upgrade`, and on start)."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"


# Objects made by raw SQL in migrations for one database's keyword search: SQLite's FTS5 table and its
# shadow tables; PostgreSQL's generated tsvector column, its GIN index and the BM25 postings tables
# (`keyword_*`, migration 0008) (issue #6); the author filter's trigram index (`author_index*`, 0016). They
# are not in schema.py, so autogenerate and the schema check must not see them as strays to drop.
_RAW_SQL_TABLES = ("papers_fts", "keyword_", "author_index")
_RAW_SQL_COLUMNS = ("search_tsv",)
_RAW_SQL_INDEXES = ("ix_papers_search_tsv",)


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic filter: leave the raw-SQL keyword index objects out of schema comparison."""
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith(_RAW_SQL_TABLES)
    if type_ == "column":
        return name not in _RAW_SQL_COLUMNS
    if type_ == "index":
        return name not in _RAW_SQL_INDEXES
    return True


def alembic_config() -> Config:
    """An Alembic config pointing at the package's migrations."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


# Key of the PostgreSQL advisory lock that migrating processes queue on ("ptmig" in ASCII).
_MIGRATION_LOCK = 0x70746D6967


@contextmanager
def _one_at_a_time(conn: Connection) -> Iterator[None]:
    """Hold the migration lock of this database: a PostgreSQL advisory lock, or for a SQLite file an
    exclusive lock on a file beside it. A transaction would not do: Alembic commits after each
    revision on SQLite, and a second process could then start the revisions the first is running."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": _MIGRATION_LOCK})
        conn.commit()
        try:
            yield
        finally:
            conn.rollback()
            conn.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _MIGRATION_LOCK})
            conn.commit()
        return
    database = conn.engine.url.database
    if conn.dialect.name != "sqlite" or not database or database == ":memory:":
        yield
        return
    with open(f"{database}.migrate-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database to `revision` (default: the latest).

    Every process migrates on start, and several web and worker processes may start at once (issue
    #6): they queue on a lock, so one migrates and the others then find nothing left to do, instead
    of racing to create the same tables.
    """
    cfg = alembic_config()
    with engine.connect() as conn, _one_at_a_time(conn):
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def current(engine: Engine) -> str | None:
    """The revision the database is at, or None for an empty database."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        rev = MigrationContext.configure(conn).get_current_revision()
    return str(rev) if rev else None
