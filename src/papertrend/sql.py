"""The one MetaData every room's tables join, and what SQLite and PostgreSQL spell differently (issue #6).

Callers build tables and queries from these and never ask which database they are on. Each room defines
its tables beside its code (`papers/tables.py`, `search/tables.py`, …); `papertrend.schema` gathers them
all for migrations and the schema check (#11).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as sa_pg
from sqlalchemy.dialects import sqlite as sa_sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement


class utc_day(FunctionElement[date]):  # lower case: used like an SQL function, as sa.func.* are
    """The UTC calendar day of a timestamp column, typed DATE on both databases.

    SQLite keeps timestamps as naive UTC text, so `date(ts)` is their day. On PostgreSQL a `::date`
    cast of a timestamptz would fall in the session's time zone; `AT TIME ZONE 'UTC'` pins it, and
    the expression stays IMMUTABLE, so it can be indexed.
    """

    type = sa.Date()
    name = "utc_day"
    inherit_cache = True


@compiles(utc_day, "sqlite")
def _utc_day_sqlite(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


@compiles(utc_day)
def _utc_day_default(element: utc_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Spelled as PostgreSQL prints it back (pg_get_indexdef), so alembic's schema comparison sees the
    # indexed expression (ix_papers_listing_day) as unchanged.
    return f"({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC')::date"


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware, on SQLite as on PostgreSQL.

    SQLite has no time zone type and would hand back naive values; comparing those with the aware
    values sources produce would make every re-ingest look like a change.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_for(conn: sa.Connection, table: sa.Table) -> sa_sqlite.Insert | sa_pg.Insert:
    """The dialect's INSERT, which offers ON CONFLICT on both SQLite and PostgreSQL."""
    return sa_pg.insert(table) if conn.dialect.name == "postgresql" else sa_sqlite.insert(table)
