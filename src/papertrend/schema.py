"""The single schema for SQLite and PostgreSQL (SQLAlchemy Core). Migrations mirror it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import sqlalchemy as sa
from pgvector.sqlalchemy import VECTOR  # also teaches SQLAlchemy to reflect `vector` columns
from sqlalchemy.dialects import postgresql as sa_pg
from sqlalchemy.dialects import sqlite as sa_sqlite


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


class EmbeddingVector(sa.TypeDecorator[bytes]):
    """An embedding, seen by Python as little-endian float32 bytes on both databases (issue #6).

    SQLite keeps those bytes as a blob. PostgreSQL keeps a pgvector `vector` without a fixed dimension
    (models differ: 384 for MiniLM, 256 for WordLlama), so search can run `<=>` in the database over
    per-model HNSW expression indexes. `search.vectors.store`/`load` stay the same code on both.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(VECTOR())
        return dialect.type_descriptor(sa.LargeBinary())

    def process_bind_param(self, value: Any, dialect: sa.Dialect) -> Any:
        if value is None or dialect.name != "postgresql":
            return value
        if isinstance(value, bytes | bytearray | memoryview):
            return np.frombuffer(value, dtype="<f4")
        return np.asarray(value, dtype=np.float32)

    def process_result_value(self, value: Any, dialect: sa.Dialect) -> bytes | None:
        if value is None or dialect.name != "postgresql":
            return value  # type: ignore[no-any-return]
        return np.asarray(value, dtype="<f4").tobytes()


metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One row per paper, keyed by the arXiv id without version (issue #2). Bibliographic fields come from
# arXiv sources; hf_* and github_* are signals imported from Hugging Face and never overwrite them.
# `pk` is a stable integer handle: SQLite's FTS5 index and the ANN index key rows by integer, and an
# implicit rowid could be renumbered by VACUUM (issue #3).
papers = sa.Table(
    "papers",
    metadata,
    sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(64), nullable=False, unique=True),
    sa.Column("version", sa.Integer, nullable=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("abstract", sa.Text, nullable=False, server_default=""),
    sa.Column("authors", sa.JSON, nullable=False),
    sa.Column("categories", sa.JSON, nullable=False),
    sa.Column("primary_category", sa.String(64), nullable=True),
    sa.Column("comment", sa.Text, nullable=True),
    sa.Column("journal_ref", sa.Text, nullable=True),
    sa.Column("doi", sa.String(255), nullable=True),
    sa.Column("license", sa.String(255), nullable=True),
    sa.Column("published_at", UTCDateTime(), nullable=True),
    sa.Column("updated_at", UTCDateTime(), nullable=True),
    # The day the paper was announced in an arXiv listing, or else put on HF's daily page: what the
    # daily, weekly and monthly listings group by.
    sa.Column("listed_on", sa.Date, nullable=True),
    sa.Column("pdf_url", sa.Text, nullable=True),
    sa.Column("code_url", sa.Text, nullable=True),
    sa.Column("project_url", sa.Text, nullable=True),
    sa.Column("hf_upvotes", sa.Integer, nullable=True),
    sa.Column("hf_comments", sa.Integer, nullable=True),
    sa.Column("hf_daily_on", sa.Date, nullable=True),
    sa.Column("hf_submitted_at", UTCDateTime(), nullable=True),
    sa.Column("hf_ai_summary", sa.Text, nullable=True),
    sa.Column("hf_ai_keywords", sa.JSON, nullable=True),
    sa.Column("github_stars", sa.Integer, nullable=True),
    sa.Column("sources", sa.JSON, nullable=False),
    sa.Column("first_seen_at", UTCDateTime(), nullable=False),
    sa.Column("changed_at", UTCDateTime(), nullable=False),
    # Never reuse the pk of a deleted paper: derived indexes may still hold it.
    sqlite_autoincrement=True,
)
sa.Index("ix_papers_listed_on", papers.c.listed_on)
# Daily, weekly and monthly listings filter on this expression (papers.repository.listing_day_expr):
# on the 85k corpus a day page took ~480 ms without the index and 10–28 ms with it.
sa.Index("ix_papers_listing_day", sa.func.coalesce(papers.c.listed_on, papers.c.hf_daily_on))
sa.Index("ix_papers_hf_daily_on", papers.c.hf_daily_on)
sa.Index("ix_papers_published_at", papers.c.published_at)
# The in-memory keyword index's freshness check reads max(changed_at) (search/bm25.py).
sa.Index("ix_papers_changed_at", papers.c.changed_at)

# One vector per paper and embedding model: the source of truth; any ANN index is derived (issue #3).
# L2-normalised float32: a blob of little-endian bytes on SQLite, a pgvector `vector` on PostgreSQL.
embeddings = sa.Table(
    "embeddings",
    metadata,
    sa.Column("model", sa.String(128), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("vector", EmbeddingVector(), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
# The vector index checks (count, newest) of a model's vectors before each search; without this
# covering index that read every vector blob (~60 ms a query at 80k papers).
sa.Index("ix_embeddings_model_created", embeddings.c.model, embeddings.c.created_at)

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

# One row per periodic job (issue #6): which worker holds it until when, and when it last started
# and finished, so that several workers run each job once per period and a dead worker's job is
# taken over when its lease runs out (papertrend.leases).
job_leases = sa.Table(
    "job_leases",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=True),
    sa.Column("lease_until", UTCDateTime(), nullable=True),
    sa.Column("started_at", UTCDateTime(), nullable=True),
    sa.Column("finished_at", UTCDateTime(), nullable=True),
    sa.Column("ok", sa.Boolean, nullable=True),
    sa.Column("summary", sa.Text, nullable=True),
)

# One vote per user and paper (issue #4, part 2); an upvote toggles the row. Counts are read per
# paper, so the paper comes second in a second index.
votes = sa.Table(
    "votes",
    metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("paper_pk", sa.Integer, sa.ForeignKey("papers.pk", ondelete="CASCADE"), primary_key=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
)
sa.Index("ix_votes_paper_pk", votes.c.paper_pk)

# Fixed-window counters for rate limits (subscribe and sign-in forms; papertrend.ratelimit), in the
# database so every web process shares them and a restart does not reset them. Keys are
# "[scope:]ip:…" or "[scope:]addr:<sha256>".
rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("window_start", UTCDateTime(), nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
)


def insert_for(conn: sa.Connection, table: sa.Table) -> sa_sqlite.Insert | sa_pg.Insert:
    """The dialect's INSERT, which offers ON CONFLICT on both SQLite and PostgreSQL."""
    return sa_pg.insert(table) if conn.dialect.name == "postgresql" else sa_sqlite.insert(table)


# The digest's tables (subscriptions, tokens, editions, …), the accounts' (users, login tokens,
# sessions) and the library's (collections, feedback, followed authors; #13) live beside their code
# but belong to this one metadata, so migrations and the schema check see every table.
from papertrend.accounts import tables as _accounts_tables  # noqa: E402, F401
from papertrend.digest import tables as _digest_tables  # noqa: E402, F401
from papertrend.library import tables as _library_tables  # noqa: E402, F401
