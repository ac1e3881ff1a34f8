"""Writing the keyword index (search/tantivy_index.py): what changed in the database, into tantivy.

A `Session` is one writer's turn, under the host's lease and tantivy's writer lock. It re-indexes a
paper only when the digest of its text (title, abstract, authors) differs from the one the index
holds, so papers whose upvotes or stars moved — and with them `papers.changed_at` — cost a read and
write nothing. `finish` looks at every paper changed since the last sync, less `OVERLAP` for
transactions that stamped their papers earlier but committed after that look, then commits once.

An ingest run does not wait for the end to index: its `Follower` indexes each committed batch on a
thread, so tantivy's indexing threads work while the ingest parses and stores the next batches.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading
from papertrend.papers.tables import papers
from papertrend.search.spelling import greek_named, joined_compounds

if TYPE_CHECKING:
    from papertrend.search.tantivy_index import KeywordIndex

log = logging.getLogger(__name__)

OVERLAP = timedelta(seconds=60)
# Papers read per statement: one IN list of pks (SQLite binds at most 999), or a streamed chunk.
_IN_CHUNK = 900
_STREAM = 5000


@dataclass(frozen=True)
class SyncReport:
    """What one sync did: papers read from the database, documents written and deleted."""

    read: int = 0
    written: int = 0
    deleted: int = 0
    seconds: float = 0.0
    full: bool = False


def values(title: str, abstract: str, authors: Sequence[str], *, title_repeats: int) -> list[str]:
    """The values of a paper's text field (tantivy_index.TEXT says why the title repeats), Greek letters
    by name (`spelling.greek_named`), then its hyphenated words written whole
    (`spelling.joined_compounds`), the title's as often as the title."""
    title, abstract = greek_named(title), greek_named(abstract)
    joined = " ".join([*([joined_compounds(title)] * title_repeats), joined_compounds(abstract)]).strip()
    return [*([title] * title_repeats), abstract, *authors, *([joined] if joined else [])]


def text_hash(title: str, abstract: str, authors: Sequence[str]) -> int:
    """A signed 64-bit digest of what the index holds of a paper (tantivy's fast fields are i64):
    CRC-32 and Adler-32 of the text side by side, a tenth of blake2b's cost here."""
    data = "\x00".join((title, abstract, *authors)).encode()
    return ((zlib.crc32(data) << 32) | zlib.adler32(data)) - (1 << 63)


def count_and_newest(conn: Connection) -> tuple[int, datetime | None]:
    row = conn.execute(sa.select(sa.func.count(), sa.func.max(papers.c.changed_at))).one()
    return int(row[0]), row[1]


def signature(conn: Connection) -> str:
    """The papers' count and newest change: what a sync records and a later check compares."""
    count, newest = count_and_newest(conn)
    return f"{count}|{newest.isoformat() if newest else ''}"


# Authors as their JSON text, decoded by orjson: SQLAlchemy's JSON type took longer than tantivy
# (on PostgreSQL the driver has decoded them already).
_TEXT_COLUMNS = (
    papers.c.pk,
    papers.c.title,
    papers.c.abstract,
    sa.type_coerce(papers.c.authors, sa.Text).label("authors"),
)


def _chunks(rows: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


class Session:
    """One writer's turn on the index."""

    def __init__(self, index: KeywordIndex, writer: tantivy.IndexWriter) -> None:
        self.index = index
        self.writer = writer
        self.t0 = time.perf_counter()
        self.empty = index.documents == 0
        # The digest of each paper written in this session: not searchable until the commit.
        self.handled: dict[int, int] = {}
        self.read = self.written = 0
        self.new = 0  # papers written that the index did not hold
        self._committed: set[int] | None = None  # the pks the index held when the session began

    def write_rows(self, rows: Sequence[Any]) -> None:
        """Index these papers' rows where their text differs from what the index holds."""
        self.read += len(rows)
        unseen = [int(r.pk) for r in rows if int(r.pk) not in self.handled]
        known = {} if self.empty or not unseen else self.index.hashes(unseen)
        known.update(self.handled)
        repeats = self.index.title_repeats
        for row in rows:
            pk = int(row.pk)
            raw = row.authors
            # SQLite hands JSON over as text; psycopg decodes PostgreSQL's json itself.
            authors = [str(a) for a in (orjson.loads(raw) if isinstance(raw, str | bytes) else raw or ())]
            abstract = row.abstract or ""
            digest = text_hash(row.title, abstract, authors)
            old = known.get(pk)
            if old == digest:
                continue
            if old is not None:
                self.writer.delete_documents_by_term("pk", pk)
            else:
                self.new += 1
            text = values(row.title, abstract, authors, title_repeats=repeats)
            # `words`: "did you mean"'s, counted from the index after the commit (search/vocabulary.py).
            words = [row.title, abstract]
            self.writer.add_document(tantivy.Document(pk=pk, hash=digest, text=text, words=words))
            self.handled[pk] = digest
            self.written += 1

    def write_pks(self, conn: Connection, pks: Sequence[int]) -> None:
        for start in range(0, len(pks), _IN_CHUNK):
            part = pks[start : start + _IN_CHUNK]
            self.write_rows(conn.execute(sa.select(*_TEXT_COLUMNS).where(papers.c.pk.in_(part))).all())

    def write_ids(self, conn: Connection, ids: Sequence[str]) -> None:
        for start in range(0, len(ids), _IN_CHUNK):
            part = ids[start : start + _IN_CHUNK]
            self.write_rows(conn.execute(sa.select(*_TEXT_COLUMNS).where(papers.c.id.in_(part))).all())

    def finish(self, engine: Engine, *, full: bool = False) -> SyncReport:
        """Catch up with every paper changed since the last sync, drop deleted ones, commit once."""
        state = self.index.state()
        if full:
            self.writer.delete_all_documents()
            self.empty, self.handled = True, {}
            state.signature = state.watermark = ""
        deleted = 0
        with reading(engine) as conn:
            # Taken before reading: a paper changed meanwhile is read again at the next sync.
            count, newest = count_and_newest(conn)
            if self.empty and not self.handled:
                # A first build: every paper, streamed in pk order.
                stmt = sa.select(*_TEXT_COLUMNS).order_by(papers.c.pk)
                rows = conn.execution_options(yield_per=_STREAM).execute(stmt)
                for chunk in _chunks(rows, _STREAM):
                    self.write_rows(chunk)
            else:
                watermark = None if self.empty or not state.watermark else state.watermark
                changed = sa.select(papers.c.pk).order_by(papers.c.pk)
                if watermark is not None:
                    changed = changed.where(
                        papers.c.changed_at >= datetime.fromisoformat(watermark) - OVERLAP
                    )
                # Papers this session wrote are current: only their pks are read again, not texts (an
                # ingest into an empty index read all 74,728 texts back here otherwise).
                pks = [int(pk) for pk in conn.execute(changed).scalars() if int(pk) not in self.handled]
                self.write_pks(conn, pks)
                if not self.empty and self.index.documents + self.new != count:
                    deleted = self._repair(conn)
        if self.written or deleted or full:
            self.writer.commit()
            self.writer.wait_merging_threads()
            state.generation += 1
            self.index.index.reload()
        # After the commit: a reader never counts a word that no search can find yet.
        self.index.write_vocabulary(changed=bool(self.written or deleted or full))
        state.written += self.written
        state.signature = f"{count}|{newest.isoformat() if newest else ''}"
        state.watermark = newest.isoformat() if newest else state.watermark
        self.index.save(state)
        return SyncReport(
            read=self.read,
            written=self.written,
            deleted=deleted,
            seconds=time.perf_counter() - self.t0,
            full=self.empty,
        )

    def _indexed(self) -> set[int]:
        if self._committed is None:
            self._committed = set(self.index.all_pks().tolist())
        return self._committed

    def _repair(self, conn: Connection) -> int:
        """When the index and the database disagree on how many papers there are: delete the
        documents of papers gone, index papers missing (stamped before the last sync's look, say by
        another clock); how many were deleted."""
        in_db = set(conn.execute(sa.select(papers.c.pk)).scalars())
        indexed = self._indexed() | set(self.handled)
        stray = indexed - in_db
        for pk in stray:
            self.writer.delete_documents_by_term("pk", pk)
        self.write_pks(conn, sorted(in_db - indexed))
        return len(stray)


class TextRow(NamedTuple):
    """What the index holds of a paper, as Session.write_rows reads it from a row."""

    pk: int
    title: str
    abstract: str | None
    authors: Any  # a list, or its JSON text


class Follower:
    """Indexes an ingest's committed batches on a thread (KeywordIndex.following)."""

    def __init__(self, index: KeywordIndex, engine: Engine, *, threads: int) -> None:
        self.index = index
        self.engine = engine
        self.threads = threads  # tantivy's indexing threads (tantivy_index.INGEST_WRITER_THREADS)
        self._batches: queue.Queue[list[str] | list[TextRow] | None] = queue.Queue()
        self._report: SyncReport | None = None
        self._thread = threading.Thread(target=self._run, name="keyword-follow", daemon=True)
        self._thread.start()

    def feed(self, paper_ids: Sequence[str]) -> None:
        """Papers just committed (new or changed): index them now."""
        if paper_ids:
            self._batches.put(list(paper_ids))

    def feed_rows(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Papers just committed, as their rows (pk, title, abstract, authors and more): index them
        now without reading them back (that read was 1.9 of a 75k-paper ingest's 20 CPU s)."""
        if rows:
            self._batches.put([TextRow(r["pk"], r["title"], r["abstract"], r["authors"]) for r in rows])

    def close(self) -> SyncReport | None:
        """Catch up, commit and stop; the sync's report, or None when another process was writing."""
        self._batches.put(None)
        self._thread.join()
        return self._report

    def _run(self) -> None:
        drained = False
        try:
            with self.index.writing(self.engine, threads=self.threads) as session:
                while (batch := self._batches.get()) is not None:
                    if session is None or not batch:
                        continue
                    if isinstance(batch[0], TextRow):
                        session.write_rows(batch)
                    else:
                        with reading(self.engine) as conn:
                            session.write_ids(conn, batch)
                drained = True
                if session is not None:
                    # What store() noted is in the batches fed (or in another thread's, synced next).
                    self.index.take_pending()
                    self._report = session.finish(self.engine)
        except Exception:  # derived data: the next sync, here or in any process, catches up
            log.exception("keyword.follow_failed")
            while not drained and self._batches.get() is not None:  # let the ingest go on
                pass
