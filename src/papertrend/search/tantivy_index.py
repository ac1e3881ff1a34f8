"""The keyword index: tantivy on disk under the data dir, shared by every process of a host (issue #15).

It replaced a BM25 index in the memory of every web process (about 1 kB a paper, rebuilt whole
whenever `papers.changed_at` moved) and PostgreSQL's BM25 postings table (bulk ingest ~280 papers/s,
918 MB at 80k). Tantivy keeps the postings in memory-mapped segment files, so the processes of a
host share one copy through the page cache; readers pick up each commit by themselves (tantivy
watches the index's meta.json).

It is derived data, like the vector index: `sync` brings it up to the database and `papertrend
reindex` rebuilds it from scratch. One process per host writes at a time, under the
`keyword-index:<host>:…` lease (papertrend.leases) and tantivy's own writer lock. Writing is
search/keyword_writer.py's: only papers whose text (title, abstract, authors) hashes differently
from what the index holds are written, so an hourly Hugging Face ingest that changes upvote counts
writes nothing.

Words are split where a character is neither letter nor digit, lower-cased, folded to ASCII where
they have a plain form, and stemmed with Snowball English, at index and query time alike.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading
from papertrend.leases import Leases
from papertrend.search.keyword_writer import Follower, Session, SyncReport, signature
from papertrend.search.vocabulary import FILE as VOCABULARY_FILE
from papertrend.search.vocabulary import VocabularyFile

log = logging.getLogger(__name__)

# One text field holds a paper's words, with positions for phrases: the title three times, the
# abstract, each author's name, as separate values, which tantivy keeps a position apart so that no
# phrase spans two of them. The repeats make a title word count as FTS5's bm25() with column weights
# (3, 1, 1) counted it (search/keyword.py DEFAULT_WEIGHTS). Tantivy's BM25 per field (title, abstract,
# authors) summed with boosts 3/1/1 scored SciFact test nDCG@10 0.599 (equal boosts 0.670); one field,
# title thrice, scored 0.695 (train 0.709), against FTS5's 0.692 (train 0.708); 0.6915 (train 0.706)
# with keyword.py's plural forms. Per-field fields
# beside it for phrases doubled the text indexed and the ingest time of the index.
TEXT = "text"
TITLE_REPEATS = 3
TOKENIZER = "papertrend"
# "Did you mean"'s words (search/vocabulary.py): each paper's title and abstract split into runs of
# letters and digits and lower-cased, nothing else; doc ids only (no counts, no positions).
WORDS = "words"
WORDS_TOKENIZER = "papertrend-words"
# Bumped when the schema, the analyzer or what is indexed changes: an index of another version is
# rebuilt. 3: hyphenated words also written whole (spelling.joined_compounds); 4: Greek letters
# by name (spelling.greek_named); 5: the `words` field.
FORMAT = 5
STATE_FILE = "papertrend-state.json"
# How often a long-lived process looks for changed papers.
CHECK_EVERY_S = 5.0
# The writer's memory budget (split among its threads).
WRITER_HEAP = 128_000_000
# Tantivy's writer threads: one per core of the 2-core machines this runs on (more only queue).
WRITER_THREADS = 2
# An ingest's own threads (parsing, the database) keep one core busy beside the index: with one
# indexing thread the 74,728-paper listing's fresh SQLite ingest took 13.4-13.9 s against 14.6-15.1 s
# with two (fewer segments to merge, 21.5 against 23 CPU s); a rebuild alone (`reindex`) takes two
# (8.3 against 12.0 s).
INGEST_WRITER_THREADS = 1
# A filter allowing at most this many papers is handed to tantivy as a set of pks; a wider one is
# applied to a ranking read deeper instead. On a 20k-paper index at load ~18, a set of 1,000 pks cost
# 16 ms a query, 20,000 cost 102 ms, while reading the best 2,000 unfiltered took 1 ms.
PK_SET_MAX = 1_000

I64 = npt.NDArray[np.int64]
# "building": this host's index was never synced with the database (its first build runs, here or in
# another process of the host); "ready": searches rank from it (it may be catching up with changes).
IndexState = Literal["building", "ready"]


def analyzer() -> tantivy.TextAnalyzer:
    """The one analyzer of titles, abstracts, author names and query words."""
    return (
        tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple())
        .filter(tantivy.Filter.remove_long(40))
        .filter(tantivy.Filter.lowercase())
        .filter(tantivy.Filter.ascii_fold())
        .filter(tantivy.Filter.stemmer("english"))
        .build()
    )


def words_analyzer() -> tantivy.TextAnalyzer:
    """The `words` field's: runs of letters and digits, lower-cased (vocabulary.words_of in Python)."""
    # Tantivy's regex tokenizer ([^\W\d_]{3,}, as Python counted) cost its threads 8.5 CPU s more
    # over the 74,728-paper listing; the simple one 3.5 s, and vocabulary.counted drops the rest.
    return tantivy.TextAnalyzerBuilder(tantivy.Tokenizer.simple()).filter(tantivy.Filter.lowercase()).build()


def forms(analyzer: tantivy.TextAnalyzer, token: str) -> list[str]:
    """The stems a loose word is looked up by: its own, and its plural's or singular's where Snowball
    English keeps them apart. It leaves an s after no vowel ("LLMs", "GNNs" stay "llms", "gnns"),
    where FTS5's Porter stemmer took it off, so "LLM's" and "GNN" found "LLMs" and "GNNs"."""
    stems = analyzer.analyze(token)
    if len(stems) != 1 or not token.isalpha():
        # Only words have plurals: "3" looked up "3s" too (seconds: "0.3s per image"), a rare term
        # whose weight put a brain-tumour paper first for "llama 3" on the 80k store (#14).
        return stems
    other = token[:-1] if token[-1:] in ("s", "S") and len(token) > 2 else f"{token}s"
    return list(dict.fromkeys([*stems, *analyzer.analyze(other)[:1]]))


def schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", indexed=True, fast=True)
    builder.add_integer_field("hash", fast=True)
    builder.add_text_field(TEXT, tokenizer_name=TOKENIZER, index_option="position")
    builder.add_text_field(WORDS, tokenizer_name=WORDS_TOKENIZER, index_option="basic")
    return builder.build()


def index_dir(*, url: sa.URL, data_dir: Path) -> Path:
    """Where the index of one database lives under the data dir."""
    if url.get_backend_name() == "sqlite":
        where = str(Path(url.database or ":memory:").expanduser().resolve())
        name = f"sqlite-{Path(where).stem}"
    else:
        where = f"{url.host}:{url.port}/{url.database}"
        name = f"{url.get_backend_name()}-{url.host}-{url.port or ''}-{url.database}"
    digest = hashlib.sha1(where.encode()).hexdigest()[:10]
    return data_dir / "keyword" / f"{name}-{digest}"


@dataclass
class State:
    """What the index's state file says: its format, and how far it follows the database."""

    format: int = FORMAT
    signature: str = ""  # the database's (count, newest change) at the last sync
    watermark: str = ""  # the newest changed_at read, ISO
    generation: int = 0  # commits made
    written: int = 0  # documents written, ever


class KeywordIndex:
    """One database's tantivy index on this host: search it, and sync it from the database."""

    def __init__(self, *, path: Path, check_every: float = CHECK_EVERY_S) -> None:
        self.path = path
        self.check_every = check_every
        self.schema = schema()
        self.analyzer = analyzer()
        self._sync_lock = threading.Lock()
        self._stop = threading.Event()
        self._checked = -float("inf")
        # Papers this process stored or changed since its last sync: its next search syncs first.
        self._pending: set[str] = set()
        self._pending_lock = threading.Lock()
        self.background = False  # a long-lived process syncs on a thread instead of in searches
        self.last_sync: SyncReport | None = None
        self.state_now: IndexState = "ready"
        self.title_repeats = TITLE_REPEATS
        self.index = self._open()
        # "Did you mean"'s word counts, kept by this index's writer (search/vocabulary.py).
        self.vocabulary = VocabularyFile(self.path / VOCABULARY_FILE)

    # Opening ------------------------------------------------------------------------------------

    def _open(self) -> tantivy.Index:
        self.path.mkdir(parents=True, exist_ok=True)
        state = self.state()
        if state.format != FORMAT or (
            tantivy.Index.exists(str(self.path)) and not tantivy.Index.is_compatible(str(self.path))
        ):
            log.warning("keyword.index_rebuilt: its format changed", extra={"path": str(self.path)})
            self._wipe()
        try:
            index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        except ValueError:
            # An index of another schema with no state file: its first build was killed before the
            # state was written, by a version with another FORMAT. Derived data: built again.
            log.warning("keyword.index_rebuilt: its schema changed", extra={"path": str(self.path)})
            self._wipe()
            index = tantivy.Index(self.schema, path=str(self.path), reuse=True)
        index.register_tokenizer(TOKENIZER, self.analyzer)
        index.register_tokenizer(WORDS_TOKENIZER, words_analyzer())
        # Every commit, by this process or another on the host, is picked up within a second.
        index.config_reader(reload_policy="commit")
        return index

    def _wipe(self) -> None:
        for child in self.path.iterdir():
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()

    def state(self) -> State:
        try:
            raw = json.loads((self.path / STATE_FILE).read_text())
            return State(**{k: raw[k] for k in State.__dataclass_fields__ if k in raw})
        except (OSError, ValueError, TypeError):
            return State()

    def save(self, state: State) -> None:
        tmp = self.path / f".{STATE_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(state.__dict__))
        tmp.replace(self.path / STATE_FILE)

    @property
    def lease_name(self) -> str:
        where = hashlib.sha1(str(self.path.resolve()).encode()).hexdigest()[:8]
        return f"keyword-index:{socket.gethostname()[:40]}:{where}"

    def searcher(self) -> tantivy.Searcher:
        return self.index.searcher()

    @property
    def documents(self) -> int:
        return int(self.searcher().num_docs)

    # Keeping up with the database ---------------------------------------------------------------

    def fresh(self, *, conn: Connection) -> None:
        """Sync now when this process wrote papers, or at most every `check_every` seconds."""
        if self.background:
            return
        now = time.monotonic()
        if not self._pending and now - self._checked < self.check_every:
            return
        self._checked = now
        if self._pending or signature(conn) != self.state().signature or self.vocabulary.needs_build():
            # Never wait in a search for this process's own writer (an ingest of this process).
            self.sync(engine=conn.engine, wait=False)

    def start(self, *, engine: Engine) -> None:
        """Keep the index in sync from a thread of this long-lived process; searches never sync."""
        if self.background:
            return
        self.background = True
        self.state_now = "building"
        self._stop.clear()
        threading.Thread(target=self._follow, args=(engine,), name="keyword-sync", daemon=True).start()

    def stop(self) -> None:
        """Stop the thread of `start`; searches sync again themselves."""
        self._stop.set()
        self.background = False

    def _follow(self, engine: Engine) -> None:
        # Never busier than every CHECK_EVERY_S, whatever searches would do.
        while True:
            try:
                with reading(engine) as conn:
                    current = signature(conn)
                if self.state().signature:
                    # Synced before: it answers while this round catches up, or rebuilds "did you
                    # mean"'s file (after an upgrade; 81.6 CPU s at 1M), instead of a 503 meanwhile.
                    self.state_now = "ready"
                if current != self.state().signature or self.vocabulary.needs_build():
                    self.sync(engine=engine)
                # Whoever synced (this process or another of the host), the state file says how far.
                # Once it has been synced, an index catching up (another process's long ingest
                # holding the writer, say) still answers: only a first build is "building".
                synced = self.state().signature
                self.state_now = "ready" if synced else "building"
            except Exception:  # the database may be down for a while: try again at the next round
                log.exception("keyword.sync_failed")
            if self._stop.wait(max(self.check_every, CHECK_EVERY_S)):
                return

    @contextmanager
    def writing(
        self, engine: Engine, *, wait: bool = True, threads: int = WRITER_THREADS
    ) -> Iterator[Session | None]:
        """This host's writer: the lease and tantivy's writer lock, or None while another process (or,
        with `wait=False`, another thread of this one) holds them."""
        if not self._sync_lock.acquire(blocking=wait):
            yield None
            return
        try:
            leases = Leases(engine=engine, lease=timedelta(minutes=2))
            with leases.hold(name=self.lease_name, every=timedelta(0), host_local=True) as held:
                if not held:
                    yield None
                    return
                try:
                    writer = self.index.writer(heap_size=WRITER_HEAP, num_threads=threads)
                except ValueError:  # tantivy's lock, held by a process that took no lease
                    yield None
                    return
                try:
                    yield Session(self, writer)
                finally:
                    del writer  # releases tantivy's writer lock
        finally:
            self._sync_lock.release()

    def pending(self, paper_ids: Iterable[str]) -> None:
        with self._pending_lock:
            self._pending.update(paper_ids)

    def take_pending(self) -> list[str]:
        with self._pending_lock:
            ids, self._pending = sorted(self._pending), set()
        return ids

    def sync(self, *, engine: Engine, full: bool = False, wait: bool = True) -> SyncReport | None:
        """Bring the index up to the database (`full`: rebuild it); None when another process of this
        host is writing it."""
        with self.writing(engine, wait=wait) as session:
            if session is None:
                return None
            ids = self.take_pending()
            if ids:
                with reading(engine) as conn:
                    session.write_ids(conn, ids)
            report = session.finish(engine, full=full)
        self._synced(report)
        return report

    def _synced(self, report: SyncReport) -> None:
        self.last_sync = report
        if report.written or report.deleted:
            log.info("keyword.synced", extra={**report.__dict__, "path": str(self.path)})

    @contextmanager
    def following(self, engine: Engine) -> Iterator[Follower]:
        """For an ingest run: index each batch's papers on a thread as soon as they are committed, so
        tantivy's indexing overlaps the ingest's own work, then catch up and commit once at the end."""
        follower = Follower(self, engine, threads=INGEST_WRITER_THREADS)
        try:
            yield follower
        finally:
            report = follower.close()
            if report is not None:
                self._synced(report)

    def write_vocabulary(self, *, changed: bool) -> None:
        """After a commit: "did you mean"'s file from the index's words, if the index `changed` or the
        file is missing (search/vocabulary.py)."""
        self.vocabulary.update(searcher=self.searcher(), field=WORDS, changed=changed)

    def hashes(self, pks: Sequence[int]) -> dict[int, int]:
        """The text digest the index holds for each of these papers (absent: not indexed)."""
        searcher = self.searcher()
        found = searcher.search(
            tantivy.Query.term_set_query(self.schema, "pk", list(pks)), len(pks), count=False
        )
        addresses = [address for _, address in found.hits]
        if not addresses:
            return {}
        got = zip(
            searcher.fast_field_values("pk", addresses),
            searcher.fast_field_values("hash", addresses),
            strict=True,
        )
        return {int(pk): int(h) for pk, h in got if pk is not None and h is not None}

    def all_pks(self) -> I64:
        searcher = self.searcher()
        n = int(searcher.num_docs)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        hits = searcher.search(tantivy.Query.all_query(), n, count=False).hits
        return np.asarray(searcher.fast_field_values("pk", [a for _, a in hits]), dtype=np.int64)


__all__ = [
    "TEXT",
    "WORDS",
    "IndexState",
    "KeywordIndex",
    "State",
    "SyncReport",
    "analyzer",
    "forms",
    "index_dir",
    "schema",
]
