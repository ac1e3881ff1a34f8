"""Alembic environment: migrations run on the connection `papertrend.migrate` hands over."""

from __future__ import annotations

from alembic import context

from papertrend.migrate import include_name
from papertrend.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    include_name=include_name,
    # SQLite cannot ALTER most things in place; batch mode rebuilds tables (issue #2).
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
