"""SQL expressions that SQLite and PostgreSQL spell differently, in one place (issue #6).

Callers build queries from these and never ask which database they are on.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
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
