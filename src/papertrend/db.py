"""Engines and connections: SQLite (WAL, busy_timeout, foreign keys) or PostgreSQL.

Callers own transactions (DESIGN §6.1). For SQLite every write transaction starts with
`BEGIN IMMEDIATE`, so two writers queue on the busy timeout instead of failing half-way with
"database is locked" when a read lock is upgraded (datasette's single-writer pattern, §6.2).

On PostgreSQL (psycopg 3, `postgresql+psycopg://…`, issue #6) transactions are READ COMMITTED and
writers run side by side: code that reads a row and then writes it must lock what it read (row locks,
ON CONFLICT, or `FOR UPDATE SKIP LOCKED` claims) rather than lean on SQLite's one writer at a time.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Generic, TypeVar

import orjson
import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

BUSY_TIMEOUT_MS = 30_000
MMAP_BYTES = 1 << 30  # of a SQLite file read through a memory map (see _on_connect)
# A request during a PostgreSQL outage fails within this many seconds (and the app answers 503)
# instead of hanging on connect; pre-ping drops the pool's dead connections after a restart (issue #6).
PG_CONNECT_TIMEOUT_S = 5
_WRITE_OPTION = "papertrend_write"


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def is_sqlite(url: str | sa.URL) -> bool:
    """True when the URL names a SQLite database."""
    return sa.make_url(url).get_backend_name() == "sqlite"


def create_engine(url: str) -> Engine:
    """Create an engine with the pragmas and transaction behaviour Papertrend relies on."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return _create_postgres_engine(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(
            url, json_serializer=_json_dumps, json_deserializer=orjson.loads, pool_pre_ping=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        url,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        # A request may hold two or three connections at once (its own, the search's, the session
        # lookup's); with a bounded pool, busy threads holding one while waiting for the next could
        # starve each other. SQLite connections are only file handles: never make a thread wait.
        pool_size=16,
        max_overflow=-1,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Take transaction control from the sqlite3 module so that BEGIN IMMEDIATE below is ours.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        # WAL + NORMAL is durable against application crashes (SIGKILL) and only risks the last
        # transactions on power loss, which re-ingest recovers.
        cur.execute("PRAGMA synchronous=NORMAL")
        # Read pages through a shared memory map instead of copying them into each connection's
        # 2 MB page cache: looking up 100 papers by pk (every search does) fell from 17 to 0.8 ms
        # on the 370 MB 85k store. Writes still go through the WAL as before.
        cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE_OPTION, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _create_postgres_engine(url: str) -> Engine:
    parsed = sa.make_url(url)
    if parsed.drivername == "postgresql":
        # psycopg 3 is the one driver installed; a plain postgresql:// URL would ask for psycopg2.
        parsed = parsed.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        parsed,
        json_serializer=_json_dumps,
        json_deserializer=orjson.loads,
        pool_pre_ping=True,
        # Enough for each of a web process's threads (PAPERTREND_WEB_THREADS, 12) to hold the three
        # connections a request may take at once (docs/deploy.md sizes max_connections from it).
        pool_size=10,
        max_overflow=30,
        connect_args={
            "connect_timeout": PG_CONNECT_TIMEOUT_S,
            "application_name": "papertrend",
            # Timestamps come back, and `::date` casts of them fall, in UTC as on SQLite, whatever
            # the server's or the role's time zone.
            "options": "-c timezone=UTC",
        },
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One write transaction: committed on success, rolled back on any exception."""
    with engine.connect() as conn:
        conn.execution_options(**{_WRITE_OPTION: True})
        with conn.begin():
            yield conn


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A read-only connection; on SQLite a deferred transaction that never blocks writers.

    On PostgreSQL a plain READ COMMITTED transaction, which never blocks writers either.
    """
    with engine.connect() as conn:
        yield conn


T = TypeVar("T")


class PerEngine(Generic[T]):
    """One `make()` per engine in this process (a cache of derived data), made on first use and gone
    with the engine."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._made: weakref.WeakKeyDictionary[Engine, T] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def __call__(self, engine: Engine) -> T:
        with self._lock:
            found = self._made.get(engine)
            if found is None:
                found = self._made[engine] = self._make()
            return found
