"""fetch → parse → upsert, one transaction per batch with its cursor (issue #2).

Policy for bad input (documented in docs/ingest.md):
- a bad *record* (no id, no title, an id in no known form, a line that is not JSON) is rejected:
  counted, reported with its reason, and the rest of its batch is stored;
- a bad *batch or transport* (HTTP error after retries, a timeout, malformed XML, a truncated gzip)
  stops the run with a non-zero exit; every batch stored before it stays, with its cursor, so the next
  run resumes exactly there. A batch is stored whole or not at all.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Connection, Engine

from papertrend.db import transaction
from papertrend.errors import SourceError
from papertrend.ingest import runs
from papertrend.ingest.base import Cursor, Parsed, RawBatch, Source
from papertrend.ingest.cursors import delete_cursor, get_cursor, save_cursor
from papertrend.papers import repository
from papertrend.papers.models import PaperIn, Rejected
from papertrend.papers.repository import UpsertCounts
from papertrend.search import keyword

log = logging.getLogger(__name__)

MAX_REASONS_KEPT = 50


@dataclass(slots=True)
class IngestReport:
    """What one run did; `summary()` is the one line the CLI ends with."""

    source: str
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    batches: int = 0
    reasons: list[Rejected] = field(default_factory=list)
    changed_ids: list[str] = field(default_factory=list)
    error: str | None = None
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """The run finished, and if it read any record, at least one was a paper (#12: a binary file is
        768 rejected lines and no paper, a failure rather than an empty success)."""
        return self.error is None and not (self.rejected and self.seen == self.rejected)

    @property
    def seen(self) -> int:
        return self.added + self.updated + self.unchanged + self.rejected

    def summary(self, *, show: int = 3) -> str:
        rate = self.seen / self.seconds if self.seconds > 0 else 0.0
        line = (
            f"{self.source}: {self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.rejected} rejected in {self.seconds:.1f}s ({rate:,.0f} papers/s)"
        )
        if self.reasons:
            shown = "; ".join(f"{r.record}: {r.reason}" for r in self.reasons[:show])
            more = f" (+{self.rejected - show} more)" if self.rejected > show else ""
            line += f" — rejected: {shown}{more}"
        if self.error:
            line += f" — FAILED: {self.error}"
        elif not self.ok:
            line += " — FAILED: no record was a paper"
        return line


ProgressFn = Callable[[RawBatch, Parsed, IngestReport], None]

_DONE = object()
# Parsed batches waiting to be written: enough to keep both cores busy, few enough to bound memory.
_PREFETCH = 2


def _prefetched(source: Source, cursor: Cursor | None) -> Iterator[tuple[RawBatch, Parsed]]:
    """Fetch and parse in a background thread while the caller writes the previous batch.

    SQLite (and the FTS5 indexing its triggers do) runs with the GIL released, so on two cores
    parsing the next batch overlaps with storing this one. Order and errors are preserved: an
    exception in fetch or parse is raised here after every batch before it has been handed over.
    """
    handoff: queue.Queue[object] = queue.Queue(maxsize=_PREFETCH)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for raw in source.fetch(cursor):
                if not put((raw, source.parse(raw))):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            put(exc)

    worker = threading.Thread(target=produce, name=f"ingest-{source.name}", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        worker.join(timeout=5)


def store(*, conn: Connection, items: Sequence[PaperIn], now: datetime) -> UpsertCounts:
    """Upsert papers in the caller's transaction; the keyword index follows at the next sync."""
    counts = repository.upsert_many(conn=conn, items=items, now=now)
    if counts.added or counts.updated:
        # The keyword index is derived (search/tantivy_index.py): this process syncs it before its
        # next search, run_ingest as it goes, other processes within seconds.
        keyword.changed(conn=conn, paper_ids=counts.changed_ids)
    return counts


def run_ingest(
    *,
    engine: Engine,
    source: Source,
    progress: ProgressFn | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> IngestReport:
    """Ingest everything `source` yields after its saved cursor; never raises for source errors."""
    report = IngestReport(source=source.name)
    started = clock()
    t0 = time.perf_counter()
    key = source.cursor_key()
    with engine.connect() as conn:
        cursor = get_cursor(conn=conn, source=source.name, key=key)
    if cursor:
        log.info("%s: resuming %s from %s", source.name, key, cursor)
    # Each committed batch is indexed for keyword search on a thread while the next is parsed and
    # stored; the index commits once, at the end (search/keyword_writer.py).
    with keyword.following(engine=engine) as words:
        _ingest_batches(engine=engine, source=source, report=report, key=key, cursor=cursor, words=words,
                        progress=progress, clock=clock)  # fmt: skip
    report.seconds = time.perf_counter() - t0
    with transaction(engine) as conn:
        runs.record(
            conn=conn,
            source=source.name,
            started_at=started,
            finished_at=clock(),
            ok=report.ok,
            added=report.added,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
            error=report.error,
        )
    return report


def _ingest_batches(
    *,
    engine: Engine,
    source: Source,
    report: IngestReport,
    key: str,
    cursor: Cursor | None,
    words: keyword.Follower,
    progress: ProgressFn | None,
    clock: Callable[[], datetime],
) -> None:
    try:
        for raw, parsed in _prefetched(source, cursor):
            now = clock()
            with transaction(engine) as conn:
                counts = store(conn=conn, items=parsed.papers, now=now)
                if raw.cursor is not None:
                    save_cursor(conn=conn, source=source.name, key=key, value=raw.cursor, now=now)
            report.added += counts.added
            report.updated += counts.updated
            report.unchanged += counts.unchanged
            report.changed_ids.extend(counts.changed_ids)
            report.rejected += len(parsed.rejected)
            room = MAX_REASONS_KEPT - len(report.reasons)
            if room > 0:
                report.reasons.extend(parsed.rejected[:room])
            for r in parsed.rejected:
                log.info("%s: rejected %s: %s", r.source, r.record, r.reason)
            report.batches += 1
            words.feed_rows(counts.changed_rows)
            if progress:
                progress(raw, parsed, report)
        if getattr(source, "forget_cursor_when_done", False):
            # A finished file needs no resume point: the next run reads it again, idempotently.
            with transaction(engine) as conn:
                delete_cursor(conn=conn, source=source.name, key=key)
    except SourceError as exc:
        report.error = exc.message
        log.error("%s: run failed: %s", source.name, exc.message)
