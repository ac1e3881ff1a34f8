""" "Did you mean"'s vocabulary on disk (#15): each corpus word with the number of papers holding it.

It used to be counted in every web process at start (every title and abstract read: 6.2 CPU s and
+14.6 MB at 80k, 78.9 CPU s and +61 MB at 1M; bench/vocabulary.py). It is now derived data beside
the keyword index (search/tantivy_index.py), written by the host's one keyword writer after each
commit that changed the index (search/keyword_writer.py), and memory-mapped by every process, which
shares its pages through the page cache and reloads it when the file is replaced.

The counts come from the index itself: its `words` field holds each paper's title and abstract split
into words and lower-cased (no stemming), so tantivy's term dictionary is this table, counted by the
writer's own threads. Counting them in Python as papers were written cost a fresh SQLite ingest of
the 74,728-paper listing 3.1 CPU s under the GIL, 18.1 → 14.5 s of wall (bench/ingest.py); the field
costs tantivy's threads ~3.5 CPU s beside the ingest and reading the dictionary 0.24 s at 80k. Only
live papers are counted (a changed or deleted paper's old words are not), so the file is exact.

What it holds, and why that is enough for search/suggest.py:
- every word of three letters or more as a 64-bit hash (blake2b) with its paper count, sorted: how
  rare a typed word is, looked up by binary search (745 of 80k's 118,917 words are shorter: never asked);
- the words held by at least `CANDIDATE_DF` papers as text, grouped by (first letter, length): only
  they can be offered as a correction (suggest.RARE_DF), and they are 28% of the words at 80k.
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
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import tantivy

log = logging.getLogger(__name__)

FILE = "vocabulary.bin"
MAGIC = b"PTVOCAB\x00"
# Bumped when the layout or what is counted changes: a file of another format is rebuilt. 2: counted
# from the index's words (alphanumeric runs, letters only kept), no stale count.
FORMAT = 2
# A query's words, as suggest.py corrects them.
WORD = re.compile(r"[^\W\d_]+")
# Words as the index's `words` field splits them (tantivy's simple tokenizer: runs of letters and
# digits); only those of letters alone are counted ("gpt4" is not a word to offer).
_RUN = re.compile(r"[^\W_]+")
# Shorter words are never corrected nor offered (suggest.MIN_LENGTH - 1).
MIN_LENGTH = 3
# Only words held by this many papers can be offered as a correction (suggest.RARE_DF).
CANDIDATE_DF = 3
_HEADER = struct.Struct("<8sI")

U64 = npt.NDArray[np.uint64]
U32 = npt.NDArray[np.uint32]


class Unreadable(Exception):
    """The file is not a vocabulary of this format (truncated, overwritten, older)."""


def lower(word: str) -> str:
    """A word lower-cased as tantivy's filter does it, letter by letter: "ΑΣ" is "ασ" (Python's
    str.lower writes a final sigma, "ας")."""
    return word.lower() if word.isascii() else "".join(c.lower() for c in word)


def counted(word: str) -> bool:
    """Whether a word of the index's `words` field is one the vocabulary counts."""
    return len(word) >= MIN_LENGTH and word.isalpha()


def words_of(title: str | None, abstract: str | None) -> set[str]:
    """The distinct words of a paper's title and abstract that the vocabulary counts, as the index's
    `words` field finds them (split, then lower-cased)."""
    runs = (lower(w) for w in _RUN.findall(f"{title or ''} {abstract or ''}"))
    return {w for w in runs if counted(w)}


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


def encode_counts(df: Counter[str] | dict[str, int], *, papers: int) -> bytes:
    """The file's bytes for a word → paper-count table: keys sorted with their counts, and the
    candidates grouped by (letter, length)."""
    words = list(df)
    keys = hash_words(words)
    counts = np.fromiter((df[w] for w in words), dtype=np.uint32, count=len(words))
    order = np.argsort(keys, kind="stable")
    keys = np.ascontiguousarray(keys[order], dtype="<u8")
    counts = np.ascontiguousarray(counts[order], dtype="<u4")
    groups: list[list[Any]] = []
    blob = bytearray()
    ordered = sorted((w for w in words if df[w] >= CANDIDATE_DF), key=_group_key)
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
        "words": len(keys),
        "groups": groups,
    }
    head = json.dumps(header, ensure_ascii=False).encode()
    pad = -(_HEADER.size + len(head)) % 8
    return b"".join(
        (
            _HEADER.pack(MAGIC, len(head) + pad),
            head,
            b" " * pad,
            keys.tobytes(),
            counts.tobytes(),
            bytes(blob),
        )
    )


def of_index(searcher: tantivy.Searcher, field: str) -> bytes:
    """The file's bytes for the live papers of an index whose `field` holds their words."""
    # Filtered by every document, a term counts live papers only: without it, the dictionary still
    # counts a changed paper's old text until tantivy merges its segment (0.24 against 0.17 s at 80k).
    terms = searcher.terms_with_prefix(field, "", filter_query=tantivy.Query.all_query())
    return encode_counts({w: n for w, n in terms if n and counted(w)}, papers=int(searcher.num_docs))


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


class VocabularyFile:
    """One database's vocabulary file on this host: opened by readers, written by the index's writer."""

    # After a failed write, the writer tries again no sooner than this: a full disk should not make
    # each 5-second sync read the whole term dictionary again.
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

    def write(self, data: bytes) -> None:
        tmp = self.path.with_name(f".{FILE}.{os.getpid()}")
        tmp.write_bytes(data)
        tmp.replace(self.path)

    def update(self, *, searcher: tantivy.Searcher, field: str, changed: bool) -> None:
        """Follow the index's writer after a commit: write the file from the index's words when the
        index `changed` or the file is missing or unreadable (a failure is logged)."""
        t0 = time.perf_counter()
        try:
            old = self.open()
            if old is not None and not changed:
                return
            self.write(of_index(searcher, field))
            if old is None:
                done = self.open()
                report = {"words": len(done) if done is not None else 0, "seconds": time.perf_counter() - t0}
                log.info("search.vocabulary_built", extra={**report, "path": str(self.path)})
        except Exception:  # derived data: searches go on without "did you mean" until the next try
            self._failed_at = time.monotonic()
            log.exception("search.vocabulary_failed", extra={"path": str(self.path)})
