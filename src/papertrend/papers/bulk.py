"""The bulk upsert's storage side (#15): paper rows read and written through the driver's cursor, in
each database's own storage form.

SQLAlchemy's per-value bind and result processing (JSON, the UTC timestamps, dates, one dict of
parameters per row) was half of the ingest's main thread: ~5 of its 10 CPU s on the 74,728-paper
listing. Here each column is encoded by one plain function into exactly what SQLAlchemy stores
(tests/integration/test_papers_bulk.py compares the two value for value), and rows go to the
driver's `executemany` as tuples. The SQL lives here and in `papers.repository`; neither commits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from operator import itemgetter
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers.merge import Row
from papertrend.papers.tables import papers
from papertrend.sql import UTCDateTime

COLUMNS: tuple[str, ...] = tuple(c.name for c in papers.columns if c.name != "pk")
assert COLUMNS[0] == "id"  # update() sets COLUMNS[1:] where id matches
_JSON = frozenset(c.name for c in papers.columns if isinstance(c.type, sa.JSON))
_TIMESTAMPS = frozenset(c.name for c in papers.columns if isinstance(c.type, UTCDateTime))
_DATES = frozenset(c.name for c in papers.columns if isinstance(c.type, sa.Date))
# SQLite binds at most 32,766 parameters a statement; an IN list of this many ids is well below, and
# each chunk size is one statement in the driver's cache.
_IN_CHUNK = 900

Codec = Callable[[Any], Any]


def _json_out(value: Any) -> str:
    return orjson.dumps(value).decode()


# SQLAlchemy's JSON type (none_as_null=False) stores None as the JSON text 'null'; so does _encoded.
_JSON_NULL = _json_out(None)


def _json_in(value: Any) -> Any:
    # psycopg hands json over decoded already (with orjson: db.create_engine); SQLite as text.
    return orjson.loads(value) if isinstance(value, str | bytes) else value


def _pg_timestamp_out(value: datetime) -> datetime:
    # As UTCDateTime.process_bind_param: a naive timestamp is UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_timestamp_out(value: datetime) -> str:
    # SQLAlchemy's SQLite DATETIME storage format: naive UTC, always with microseconds.
    return _pg_timestamp_out(value).replace(tzinfo=None).isoformat(" ", "microseconds")


def _pg_timestamp_in(value: datetime) -> datetime:
    return value.astimezone(UTC)


def _sqlite_timestamp_in(value: str) -> datetime:
    # As UTCDateTime.process_result_value.
    dt = datetime.fromisoformat(value)
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _sqlite_date_out(value: date) -> str:
    return value.isoformat()


def _sqlite_date_in(value: str) -> date:
    return date.fromisoformat(value)


def _codecs(kind: str) -> tuple[list[tuple[int, Codec]], list[tuple[int, Codec]]]:
    """(column index in COLUMNS, function) of the columns this database needs converted: (encode,
    decode), called with values other than None. The other columns pass as they are."""
    sqlite = kind == "sqlite"
    encode: list[tuple[int, Codec]] = []
    decode: list[tuple[int, Codec]] = []
    for i, name in enumerate(COLUMNS):
        if name in _JSON:
            encode.append((i, _json_out))
            decode.append((i, _json_in))
        elif name in _TIMESTAMPS:
            encode.append((i, _sqlite_timestamp_out if sqlite else _pg_timestamp_out))
            decode.append((i, _sqlite_timestamp_in if sqlite else _pg_timestamp_in))
        elif name in _DATES and sqlite:
            encode.append((i, _sqlite_date_out))
            decode.append((i, _sqlite_date_in))
    return encode, decode


@dataclass(frozen=True)
class Statements:
    """The bulk statements of one database, with its column codecs."""

    kind: str
    select: str  # {ids}: the placeholders of an IN list
    insert: str
    update: str
    pks: str  # {ids}
    insert_names: str
    delete_names: str  # {ids}
    encode: tuple[tuple[int, Codec], ...]
    decode: tuple[tuple[int, Codec], ...]
    json_at: frozenset[int]  # the indexes of the JSON columns, whose None is encoded too
    timestamp_at: frozenset[int]

    def placeholders(self, n: int) -> str:
        return ", ".join(["?" if self.kind == "sqlite" else "%s"] * n)


def _statements(conn: Connection) -> Statements:
    kind = "sqlite" if conn.dialect.name == "sqlite" else "postgresql"
    quote = conn.dialect.identifier_preparer.quote
    mark = "?" if kind == "sqlite" else "%s"

    def value(name: str) -> str:
        # A str bound to a json column needs its cast on PostgreSQL.
        return f"{mark}::json" if kind != "sqlite" and name in _JSON else mark

    names = ", ".join(quote(n) for n in COLUMNS)
    sets = ", ".join(f"{quote(n)} = {value(n)}" for n in COLUMNS[1:])
    encode, decode = _codecs(kind)
    return Statements(
        kind=kind,
        select=f"SELECT pk, {names} FROM papers WHERE id IN ({{ids}})",
        insert=f"INSERT INTO papers ({names}) VALUES ({', '.join(value(n) for n in COLUMNS)})",
        update=f"UPDATE papers SET {sets} WHERE id = {mark}",
        pks="SELECT id, pk FROM papers WHERE id IN ({ids})",
        insert_names=f"INSERT INTO author_index (rowid, names) VALUES ({mark}, {mark})",
        delete_names="DELETE FROM author_index WHERE rowid IN ({ids})",
        encode=tuple(encode),
        decode=tuple(decode),
        json_at=frozenset(i for i, n in enumerate(COLUMNS) if n in _JSON),
        timestamp_at=frozenset(i for i, n in enumerate(COLUMNS) if n in _TIMESTAMPS),
    )


_BY_DIALECT: dict[str, Statements] = {}


def statements(conn: Connection) -> Statements:
    """This connection's database's statements (made once per process and database kind)."""
    found = _BY_DIALECT.get(conn.dialect.name)
    if found is None:
        found = _BY_DIALECT[conn.dialect.name] = _statements(conn)
    return found


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _IN_CHUNK):
        yield values[start : start + _IN_CHUNK]


def rows_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, Row]:
    """The stored rows of these papers (every column, pk included), decoded, by id."""
    st = statements(conn)
    found: dict[str, Row] = {}
    keys = ("pk", *COLUMNS)
    decode = [(i + 1, f) for i, f in st.decode]  # the select puts pk first
    for chunk in _chunks(ids):
        sql = st.select.format(ids=st.placeholders(len(chunk)))
        for raw in conn.exec_driver_sql(sql, tuple(chunk)):
            values = list(raw)
            for i, f in decode:
                if values[i] is not None:
                    values[i] = f(values[i])
            row = dict(zip(keys, values, strict=True))
            found[row["id"]] = row
    return found


def pks_by_id(conn: Connection, ids: Sequence[str]) -> dict[str, int]:
    """The pks of these papers, by id."""
    st = statements(conn)
    found: dict[str, int] = {}
    for chunk in _chunks(ids):
        sql = st.pks.format(ids=st.placeholders(len(chunk)))
        found.update((pid, int(pk)) for pid, pk in conn.exec_driver_sql(sql, tuple(chunk)))
    return found


_values = itemgetter(*COLUMNS)


def _encoded(st: Statements, rows: Sequence[Row]) -> list[list[Any]]:
    """Each row's COLUMNS values, in storage form."""
    out: list[list[Any]] = []
    # The batch's rows share `now` (first_seen_at, changed_at): each timestamp is encoded once.
    memo: dict[datetime, Any] = {}
    for row in rows:
        values = list(_values(row))
        for i, f in st.encode:
            value = values[i]
            if value is None:
                if i in st.json_at:
                    values[i] = _JSON_NULL
            elif i in st.timestamp_at:
                done = memo.get(value)
                if done is None:
                    done = memo[value] = f(value)
                values[i] = done
            else:
                values[i] = f(value)
        out.append(values)
    return out


def _copy(conn: Connection, table: str, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """PostgreSQL: rows into a table by COPY, in the caller's transaction: one statement for the
    batch, where psycopg's executemany ran one INSERT a row on the server (2,000 a batch)."""
    quote = conn.dialect.identifier_preparer.quote
    driver = conn.connection.driver_connection  # psycopg's connection, inside SQLAlchemy's transaction
    assert driver is not None
    with (
        driver.cursor() as cur,
        cur.copy(f"COPY {table} ({', '.join(quote(n) for n in names)}) FROM STDIN") as cp,
    ):
        for row in rows:
            cp.write_row(row)


def insert(conn: Connection, rows: Sequence[Row]) -> None:
    """Insert new papers (rows without pk); the database numbers them."""
    if not rows:
        return
    st = statements(conn)
    if st.kind == "sqlite":
        conn.exec_driver_sql(st.insert, [tuple(v) for v in _encoded(st, rows)])
    else:
        _copy(conn, "papers", COLUMNS, _encoded(st, rows))


def update(conn: Connection, rows: Sequence[Row]) -> None:
    """Write every column but pk of these stored papers, matched by id."""
    if rows:
        st = statements(conn)
        # COLUMNS[0] is the id: SET the rest, WHERE id = it (Statements.update).
        conn.exec_driver_sql(st.update, [(*v[1:], v[0]) for v in _encoded(st, rows)])


def replace_author_names(conn: Connection, names: Sequence[tuple[int, str]], *, drop: Sequence[int]) -> None:
    """Drop the author-filter entries of `drop` pks, then index `names` (pk, names) (repository's
    `index_authors` says what the entries are)."""
    st = statements(conn)
    for chunk in _chunks(drop):
        conn.exec_driver_sql(st.delete_names.format(ids=st.placeholders(len(chunk))), tuple(chunk))
    if names and st.kind == "sqlite":
        conn.exec_driver_sql(st.insert_names, list(names))
    elif names:
        _copy(conn, "author_index", ("rowid", "names"), names)
