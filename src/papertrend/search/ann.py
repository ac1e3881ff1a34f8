"""The on-disk usearch HNSW index of one model (issues #3, #15): written by one process at a time,
searched by every process on the host through a read-only memory-mapped view.

Layout under `<index_dir>/<model>.hnsw/`: immutable `<token>.usearch` files and `current.json`, which
names the current file together with the signature (count, newest `created_at`) of the vectors it
holds. A writer holds `lock` (flock: one writer per host), saves a new file under a unique temporary
name, renames it to its final unique name, then atomically replaces `current.json`, and unlinks the
files it replaced: a reader never sees half a file, and a file can never be paired with another
writer's signature. Views opened on a replaced file keep its inode until they are dropped.
"""

from __future__ import annotations

import fcntl
import importlib.util
import json
import logging
import os
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from papertrend.search.model_files import cpu_cores

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]

# HNSW parameters. On the 85k corpus with 256-d WordLlama vectors, 200 SciFact queries, recall@10
# against exact search was, with connectivity 16: 0.77 / 0.84 / 0.90 / 0.94 / 0.96 at expansion_search
# 64 / 128 / 256 / 512 / 1024; with connectivity 32: 0.95 / 0.96 at 512 / 768 (f16 storage lost
# nothing against f32: 0.941 vs 0.938 at 16/512). 32/768 is the cheapest setting past the 0.95 target
# (issue #3).
CONNECTIVITY = 32
EXPANSION_ADD = 128
EXPANSION_SEARCH = 768
CURRENT = "current.json"


def new_index(dim: int) -> Any:
    """An empty in-memory HNSW index with the project's parameters (cosine, f16)."""
    # Load order matters: with usearch loaded first, loading onnx afterwards (the minilm
    # embedder) crashes the process with SIGSEGV (seen with usearch 2.26 + onnx 1.23); onnx
    # first is safe. tests/integration/test_vectors.py checks it in a fresh process.
    if importlib.util.find_spec("onnx") is not None:
        import onnx  # noqa: F401
    from usearch.index import Index

    return Index(
        ndim=dim,
        metric="cos",
        dtype="f16",
        connectivity=CONNECTIVITY,
        expansion_add=EXPANSION_ADD,
        expansion_search=EXPANSION_SEARCH,
    )


@dataclass(frozen=True, slots=True)
class Current:
    """What `current.json` says: the current file and the signature of the vectors it holds."""

    file: str
    count: int
    newest: str

    @classmethod
    def read(cls, folder: Path) -> Current | None:
        try:
            meta = json.loads((folder / CURRENT).read_text())
            return cls(str(meta["file"]), int(meta["count"]), str(meta["newest"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None


class AnnView:
    """A read-only, memory-mapped view of one saved index file: its pages are the OS page cache,
    shared by every process that views the file, not this process's memory."""

    def __init__(self, index: Any, current: Current) -> None:
        self.index = index
        self.current = current

    def __len__(self) -> int:
        return int(self.index.size)

    @classmethod
    def open(cls, folder: Path, dim: int) -> AnnView | None:
        """The current file's view, or None when there is none or it is unusable (a writer rebuilds)."""
        for _ in range(3):  # a writer may replace the file between reading current.json and mapping it
            current = Current.read(folder)
            if current is None:
                return None
            index = new_index(dim)
            try:
                index.view(str(folder / current.file))
            except RuntimeError as exc:
                if not (folder / current.file).exists():
                    continue
                log.info("ANN index %s not usable (%s); it will be rebuilt", folder / current.file, exc)
                return None
            # usearch adopts the file's dimensions silently; a count that differs means another file.
            if index.ndim != dim or index.size != current.count:
                log.info("ANN index %s does not match its signature; it will be rebuilt", folder)
                return None
            return cls(index, current)
        return None

    def contains(self, pks: I64) -> npt.NDArray[np.bool_]:
        """Which of these paper pks the file holds."""
        if pks.size == 0:
            return np.zeros(0, dtype=bool)
        return np.asarray(self.index.contains(pks.astype(np.uint64)), dtype=bool).reshape(-1)

    def vectors_of(self, pks: Sequence[int]) -> tuple[I64, F32]:
        """The vectors (f16 precision) of those of `pks` the file holds."""
        none = np.zeros(0, dtype=np.int64), np.zeros((0, int(self.index.ndim)), dtype=np.float32)
        if not pks:
            return none
        found: Any = self.index.get(np.asarray(pks, dtype=np.uint64), dtype="f32")
        rows = [(pk, v) for pk, v in zip(pks, found, strict=True) if v is not None]
        if not rows:
            return none
        return np.array([pk for pk, _ in rows], dtype=np.int64), np.stack([v for _, v in rows])

    def search(self, query: F32, k: int) -> list[tuple[int, float]]:
        """The approximately k nearest (pk, cosine) to `query`."""
        if k <= 0 or len(self) == 0:
            return []
        matches = self.index.search(query.astype(np.float32), min(k, len(self)))
        return [
            (int(key), 1.0 - float(dist)) for key, dist in zip(matches.keys, matches.distances, strict=True)
        ]


def private_copy(folder: Path, current: Current, dim: int) -> Any:
    """The current file loaded into this process's memory, to change and publish as a new file."""
    index = new_index(dim)
    index.load(str(folder / current.file))
    return index


def add(index: Any, pks: I64, matrix: F32) -> None:
    """Add (or replace) vectors by paper pk in a private index."""
    if pks.size == 0:
        return
    keys = pks.astype(np.uint64)
    if index.size:
        present = np.asarray(index.contains(keys), dtype=bool).reshape(-1)
        if present.any():
            index.remove(keys[present])
    index.add(keys, matrix.astype(np.float32), threads=cpu_cores())


@contextmanager
def writer_lock(folder: Path, *, wait: bool = True) -> Iterator[bool]:
    """The host's one writer of this folder (an flock, released if the process dies); yields whether
    it is held, which without `wait` is False while another process writes."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def publish(folder: Path, index: Any, *, count: int, newest: str) -> Current:
    """Save `index` as the new current file with its signature; call under `writer_lock`."""
    token = uuid.uuid4().hex
    tmp = folder / f".tmp-{os.getpid()}-{token}"
    final = f"{token}.usearch"
    index.save(str(tmp))
    os.replace(tmp, folder / final)
    current = Current(final, count, newest)
    meta_tmp = folder / f".tmp-{os.getpid()}-{token}.json"
    meta_tmp.write_text(json.dumps({"file": final, "count": count, "newest": newest}))
    os.replace(meta_tmp, folder / CURRENT)
    # Under the lock nothing else is being written here: every other file is replaced or a crashed
    # writer's leftover. Processes viewing a replaced file keep its inode until they drop the view.
    for other in folder.iterdir():
        if other.name not in (final, CURRENT, "lock"):
            other.unlink(missing_ok=True)
    return current
