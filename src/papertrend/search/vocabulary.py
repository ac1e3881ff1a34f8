""" "Did you mean"'s vocabulary on disk (#15): each corpus word with the number of papers holding it.

It used to be counted in every web process at start (every title and abstract read: 6.2 CPU s and
+14.6 MB at 80k, 78.9 CPU s and +61 MB at 1M; bench/vocabulary.py). It is now derived
data beside the keyword index (search/tantivy_index.py), written by the host's one keyword writer in
the same turn as the index (search/keyword_writer.py), and memory-mapped by every process, which
shares its pages through the page cache and reloads it when the file is replaced.

What it holds, and why that is enough for search/suggest.py:
- every word of three letters or more as a 64-bit hash (blake2b) with its paper count, sorted: how
  rare a typed word is, looked up by binary search (745 of 80k's 118,917 words are shorter: never asked);
- the words held by at least `CANDIDATE_DF` papers as text, grouped by (first letter, length): only
  they can be offered as a correction (suggest.RARE_DF), and they are 28% of the words at 80k.

Counts follow the papers incrementally: a paper new to the index adds its words. A paper whose text
changed, or that was deleted, is not subtracted (the index keeps no text to subtract): its old words
stay counted, and it is counted as stale. Past `STALE_FRACTION` stale papers the file is rebuilt
from the database.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mmap
import os
import re
import struct
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.papers.tables import papers

log = logging.getLogger(__name__)

FILE = "vocabulary.bin"
MAGIC = b"PTVOCAB\x00"
# Bumped when the layout or what is counted changes: a file of another format is rebuilt.
FORMAT = 1
WORD = re.compile(r"[^\W\d_]+")
# Shorter words are never corrected nor offered (suggest.MIN_LENGTH - 1).
MIN_LENGTH = 3
# Only words held by this many papers can be offered as a correction (suggest.RARE_DF).
CANDIDATE_DF = 3
# A stale count is an old abstract's words still counted, or a deleted paper's. A suggestion moves
# only when a count crosses RARE_DF or the 20-fold margin of suggest.py, or when two candidates at
# the same edit distance are within the error of each other: at 5% stale papers both are rare, and a
# rebuild (1M papers: 81.6 CPU s) is paid at most once per 5% of the corpus revised.
STALE_FRACTION = 0.05
_STREAM = 5000
_HEADER = struct.Struct("<8sI")

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


class Unreadable(Exception):
    """The file is not a vocabulary of this format (truncated, overwritten, older)."""


# ASCII texts (99.7% of the listing's papers) take a plain letter class: the same words as WORD's
# Unicode class, in 41 instead of 63 µs a paper (20k papers). The writer counts every paper it
# indexes: a fresh SQLite ingest of the 74,728-paper listing went 7,000-7,224 → 4,828-5,225 papers/s
# with counting, and 5,370-5,583 with this (bench/ingest.py --only listing, quiet 2 cores).
_ASCII_WORD = re.compile(rf"[a-z]{{{MIN_LENGTH},}}")
_LONG_WORD = re.compile(rf"[^\W\d_]{{{MIN_LENGTH},}}")


def words_of(title: str | None, abstract: str | None) -> set[str]:
    """The distinct words of a paper's title and abstract that the vocabulary counts."""
    text = f"{title or ''} {abstract or ''}"
    if text.isascii():
        return set(_ASCII_WORD.findall(text.lower()))
    return set(_LONG_WORD.findall(text.casefold()))


def count(texts: Iterable[tuple[str | None, str | None]]) -> Counter[str]:
    """Papers' (title, abstract) → the number of papers holding each word."""
    df: Counter[str] = Counter()
    for title, abstract in texts:
        df.update(words_of(title, abstract))
    return df


def hash_words(words: Iterable[str]) -> U64:
    """Each word's 64-bit key: with 3M words, a collision has odds of about 1 in 4 million."""
    digests = b"".join(hashlib.blake2b(w.encode(), digest_size=8).digest() for w in words)
    return np.frombuffer(digests, dtype="<u8").astype(np.uint64)


def _group_key(word: str) -> tuple[str, int, str]:
    return (word[0], len(word), word)


def encode(*, keys: U64, df: U32, candidates: list[str], papers: int, stale: int) -> bytes:
    """The file's bytes: keys sorted with their counts, and the candidates grouped by (letter, length)."""
    order = np.argsort(keys, kind="stable")
    keys, df = np.ascontiguousarray(keys[order], dtype="<u8"), np.ascontiguousarray(df[order], dtype="<u4")
    groups: list[list[Any]] = []
    blob = bytearray()
    ordered = sorted(candidates, key=_group_key)
    start = 0
    while start < len(ordered):
        initial, length = ordered[start][0], len(ordered[start])
        end = start
        while end < len(ordered) and ordered[end][0] == initial and len(ordered[end]) == length:
            end += 1
        chunk = "\n".join(ordered[start:end]).encode()
        groups.append([initial, length, len(blob), len(blob) + len(chunk)])
        blob += chunk
        start = end
    header = {
        "format": FORMAT,
        "candidate_df": CANDIDATE_DF,
        "papers": papers,
        "stale": stale,
        "words": len(keys),
        "groups": groups,
    }
    head = json.dumps(header, ensure_ascii=False).encode()
    pad = -(_HEADER.size + len(head)) % 8
    return b"".join(
        (_HEADER.pack(MAGIC, len(head) + pad), head, b" " * pad, keys.tobytes(), df.tobytes(), bytes(blob))
    )


def encode_counts(df: Counter[str], *, papers: int, stale: int = 0) -> bytes:
    """The file's bytes for a word → paper-count table."""
    words = list(df)
    counts = np.fromiter((df[w] for w in words), dtype=np.uint32, count=len(words))
    candidates = [w for w in words if df[w] >= CANDIDATE_DF]
    return encode(keys=hash_words(words), df=counts, candidates=candidates, papers=papers, stale=stale)


class Vocabulary:
    """A vocabulary file's contents, over any buffer (a memory map, or bytes in tests)."""

    def __init__(self, buffer: Any, *, where: str = "<memory>") -> None:
        self.where = where
        view = memoryview(buffer)
        try:
            magic, length = _HEADER.unpack_from(view, 0)
            if magic != MAGIC:
                raise Unreadable("not a vocabulary file")
            header = json.loads(bytes(view[_HEADER.size : _HEADER.size + length]))
            if header.get("format") != FORMAT or header.get("candidate_df") != CANDIDATE_DF:
                raise Unreadable(f"format {header.get('format')}, not {FORMAT}")
            n = int(header["words"])
            if n < 0:
                raise Unreadable(f"{n} words")
            at = _HEADER.size + length
            self.keys: U64 = np.frombuffer(view, dtype="<u8", count=n, offset=at)
            self.df: U32 = np.frombuffer(view, dtype="<u4", count=n, offset=at + 8 * n)
            self._blob = view[at + 12 * n :]
            self.groups = {(str(i), int(k)): (int(a), int(b)) for i, k, a, b in header["groups"]}
            if any(b > len(self._blob) or a > b for a, b in self.groups.values()):
                raise Unreadable("a word group lies past the end of the file")
        except (struct.error, ValueError, KeyError, TypeError) as exc:
            raise Unreadable(f"{type(exc).__name__}: {exc}") from exc
        self.papers = int(header["papers"])
        self.stale = int(header["stale"])

    def __len__(self) -> int:
        return len(self.keys)

    def counts(self, words: list[str]) -> list[int]:
        """The number of papers holding each word (0 for a word no paper holds)."""
        if not words or not len(self.keys):
            return [0] * len(words)
        keys = hash_words(words)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return [int(d) if k == h else 0 for k, h, d in zip(self.keys[at], keys, self.df[at], strict=True)]

    def count(self, word: str) -> int:
        return self.counts([word])[0]

    def group(self, initial: str, length: int) -> list[str]:
        """The candidate words of this first letter and length."""
        span = self.groups.get((initial, length))
        if span is None:
            return []
        return bytes(self._blob[span[0] : span[1]]).decode().split("\n")

    def candidates(self) -> list[str]:
        return [w for key in self.groups for w in self.group(*key)]


class Tally:
    """Word counts as the file holds them, grown batch by batch: only a batch's words and the words
    that can be offered are held as text, so counting 1M papers at once peaked at 211 MB in a Counter
    of every word and now stays near (see FLUSH_PAPERS) what the file itself holds."""

    def __init__(self, *, papers: int = 0, stale: int = 0) -> None:
        self.keys: U64 = np.zeros(0, dtype=np.uint64)
        self.df: U32 = np.zeros(0, dtype=np.uint32)
        self.candidates: list[str] = []
        self.papers, self.stale = papers, stale

    @classmethod
    def of(cls, vocab: Vocabulary) -> Tally:
        """A tally holding what a file holds, to add papers to."""
        tally = cls(papers=vocab.papers, stale=vocab.stale)
        tally.keys, tally.df = np.array(vocab.keys, dtype=np.uint64), np.array(vocab.df, dtype=np.uint32)
        tally.candidates = vocab.candidates()
        return tally

    def add(self, batch: Counter[str], *, papers: int) -> None:
        """Add a batch of papers' word counts; a word reaching CANDIDATE_DF is in the batch, so its
        text is at hand."""
        self.papers += papers
        if not batch:
            return
        words = list(batch)
        keys = hash_words(words)
        counts = np.fromiter((batch[w] for w in words), dtype=np.uint32, count=len(words))
        at = np.searchsorted(self.keys, keys)
        clipped = np.minimum(at, max(len(self.keys) - 1, 0))
        known = (self.keys[clipped] == keys) if len(self.keys) else np.zeros(len(keys), dtype=bool)
        before = np.where(known, self.df[clipped] if len(self.keys) else 0, 0)
        self.df[at[known]] += counts[known]
        self.candidates += [
            w for w, b, c in zip(words, before, counts, strict=True) if b < CANDIDATE_DF <= b + c
        ]
        fresh = np.argsort(keys[~known])
        new_keys, new_counts = keys[~known][fresh], counts[~known][fresh]
        where = np.searchsorted(self.keys, new_keys)
        self.keys, self.df = np.insert(self.keys, where, new_keys), np.insert(self.df, where, new_counts)

    def encode(self) -> bytes:
        return encode(
            keys=self.keys, df=self.df, candidates=self.candidates, papers=self.papers, stale=self.stale
        )


def merged(old: Vocabulary, added: Counter[str], *, papers: int, stale: int) -> bytes:
    """The file's bytes with the counts of papers new since `old` added in."""
    tally = Tally.of(old)
    tally.add(added, papers=papers)
    tally.stale += stale
    return tally.encode()


# Papers counted into one batch before it joins the tally: 20k papers hold ~50k distinct words
# (80k: 118k words), a few MB as a Counter; each join re-sorts the tally's arrays (1M: 7 MB).
FLUSH_PAPERS = 20_000


class Counting:
    """The words of the papers one writer's turn adds to the index, counted as they are written."""

    def __init__(self, file: VocabularyFile, *, complete: bool) -> None:
        self.file = file
        self.reset(complete=complete)

    def reset(self, *, complete: bool = True) -> None:
        """Start again (a full rebuild of the index: every paper passes through this turn)."""
        self.complete = complete  # every stored paper passes through this turn (a first build)
        self.batch: Counter[str] = Counter()
        self.batch_papers = self.added = self.stale = 0
        self.tally: Tally | None = Tally() if complete else None
        self.skipped = False  # the file was unreadable or a batch failed: rebuilt from the database

    def new(self, title: str | None, abstract: str | None) -> None:
        """A paper new to the index: its words are counted."""
        self.added += 1
        if not self.skipped:
            self.batch.update(words_of(title, abstract))
            self.batch_papers += 1
            if self.batch_papers >= FLUSH_PAPERS:
                try:
                    self.flush()
                except Exception:  # never fail the index's sync for derived counts: rebuilt at its end
                    log.exception("search.vocabulary_failed: counted again from the database")
                    self.skipped, self.batch, self.batch_papers = True, Counter(), 0

    def changed(self, n: int = 1) -> None:
        """Indexed papers whose text changed or that went: their old words stay counted."""
        self.stale += n

    def flush(self) -> None:
        """Add the batch counted so far to the tally (started from the file, unless a first build)."""
        if self.tally is None:
            old = self.file.open()
            if old is None:
                self.skipped, self.batch, self.batch_papers = True, Counter(), 0
                return
            self.tally = Tally.of(old)
        self.tally.add(self.batch, papers=self.batch_papers)
        self.batch, self.batch_papers = Counter(), 0

    def finish(self, engine: Engine) -> Update | None:
        """Bring the file up to this turn (VocabularyFile.update)."""
        return self.file.update(engine=engine, counting=self)


def count_database(engine: Engine) -> Tally:
    """Every stored paper's words, streamed and counted in batches."""
    tally, n = Tally(), 0
    batch: Counter[str] = Counter()
    with reading(engine) as conn:
        rows = conn.execution_options(yield_per=_STREAM).execute(sa.select(papers.c.title, papers.c.abstract))
        for title, abstract in rows:
            batch.update(words_of(title, abstract))
            n += 1
            if n % FLUSH_PAPERS == 0:
                tally.add(batch, papers=FLUSH_PAPERS)
                batch = Counter()
    tally.add(batch, papers=n % FLUSH_PAPERS)
    return tally


@dataclass(frozen=True)
class Update:
    """What the writer did to the file: "unchanged", "merged", "built" (from the papers it indexed
    whole) or "rebuilt" (from the database); with the words it holds and its seconds."""

    action: str
    words: int = 0
    seconds: float = 0.0


class VocabularyFile:
    """One database's vocabulary file on this host: opened by readers, written by the index's writer."""

    # After a failed write, the writer tries again no sooner than this: a full rebuild reads every
    # paper, and a full disk should not make each 5-second sync read them all again.
    RETRY_S = 600.0

    def __init__(self, path: Path) -> None:
        self.path = path
        self._opened: tuple[tuple[int, int, int], Vocabulary | None] | None = None
        self._failed_at = -float("inf")

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def open(self) -> Vocabulary | None:
        """The file's current contents, memory-mapped once per version; None when it is missing or
        unreadable (said once in the log: the host's keyword writer rebuilds it)."""
        stamp = self._stat()
        if stamp is None:
            self._opened = None
            return None
        if self._opened is not None and self._opened[0] == stamp:
            return self._opened[1]
        found: Vocabulary | None = None
        try:
            with open(self.path, "rb") as fh:
                mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
            found = Vocabulary(mapped, where=str(self.path))
        except (OSError, ValueError, Unreadable) as exc:
            log.warning(
                "search.vocabulary_unreadable: no 'did you mean' until the keyword writer rebuilds it",
                extra={"path": str(self.path), "error": str(exc)},
            )
        self._opened = (stamp, found)
        return found

    def needs_build(self) -> bool:
        """Whether the file is missing or unreadable and the writer has not just failed to write it."""
        return self.open() is None and time.monotonic() - self._failed_at >= self.RETRY_S

    def counting(self, *, complete: bool) -> Counting:
        """Count the papers a writer's turn adds (`complete`: every stored paper passes through it)."""
        return Counting(self, complete=complete)

    def write(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{FILE}.{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(self.path)

    def update(self, *, engine: Engine, counting: Counting) -> Update | None:
        """Follow the index's writer: add the papers `counting` saw, or build the file from them
        (a first build), or rebuild it from the database (missing, unreadable, or past STALE_FRACTION
        stale papers). None when it failed (logged)."""
        t0 = time.perf_counter()
        try:
            old = None if counting.complete else self.open()
            added, stale = counting.added, counting.stale
            if counting.complete and not counting.skipped:
                counting.flush()
                assert counting.tally is not None
                tally, action = counting.tally, "built"
            elif (
                old is None
                or counting.skipped
                or old.stale + stale > STALE_FRACTION * max(old.papers + added, 1)
            ):
                tally, action = count_database(engine), "rebuilt"
            elif added or stale:
                counting.flush()
                tally, action = counting.tally or Tally.of(old), "merged"
                tally.stale += stale
            else:
                return Update("unchanged", len(old))
            self.write(tally.encode())
            done = self.open()
            words = len(done) if done is not None else 0
            report = Update(action, words, time.perf_counter() - t0)
            if action != "merged":
                log.info("search.vocabulary_" + action, extra={**report.__dict__, "path": str(self.path)})
            return report
        except Exception:  # derived data: searches go on without "did you mean" until the next try
            self._failed_at = time.monotonic()
            log.exception("search.vocabulary_failed", extra={"path": str(self.path)})
            return None
