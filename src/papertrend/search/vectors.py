"""Vector search over the embeddings stored in the database (issue #3).

The `embeddings` table is the source of truth. Search is exact (one matrix product) while a model has
fewer vectors than `ann_threshold`; past it, a usearch HNSW index on disk under the data directory
answers instead. That index is derived: it records which vectors it holds (a count and the newest
`created_at`), catches up with vectors added or re-embedded since, and is rebuilt from the table when
papers were deleted or its file is missing or unreadable.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers.tables import papers
from papertrend.search import ann
from papertrend.search.ann import AnnView, Current
from papertrend.search.filters import allowed_pks as allowed_pks
from papertrend.search.tables import embeddings
from papertrend.types import Filters

log = logging.getLogger(__name__)

F32 = npt.NDArray[np.float32]
I64 = npt.NDArray[np.int64]
_IN_CHUNK = 900


def to_blob(vector: F32) -> bytes:
    """A vector as the little-endian float32 bytes the table stores."""
    return np.asarray(vector, dtype="<f4").tobytes()


def from_blobs(blobs: Sequence[bytes], dim: int) -> F32:
    """Stored bytes back to an (n, dim) float32 matrix."""
    if not blobs:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim).astype(np.float32)


def store(*, conn: Connection, model: str, paper_pks: Sequence[int], vectors: F32, now: datetime) -> None:
    """Insert or replace the vectors of these papers for `model`, in the caller's transaction."""
    if not paper_pks:
        return
    pks = [int(p) for p in paper_pks]
    for start in range(0, len(pks), _IN_CHUNK):
        chunk = pks[start : start + _IN_CHUNK]
        conn.execute(embeddings.delete().where(embeddings.c.model == model, embeddings.c.paper_pk.in_(chunk)))
    conn.execute(
        embeddings.insert(),
        [
            {"model": model, "paper_pk": pk, "vector": to_blob(vec), "created_at": now}
            for pk, vec in zip(pks, vectors, strict=True)
        ],
    )


def missing(*, conn: Connection, model: str, limit: int) -> list[tuple[int, str, str]]:
    """Papers without a vector for `model`: (pk, title, abstract), oldest pk first."""
    joined = papers.outerjoin(
        embeddings, sa.and_(embeddings.c.paper_pk == papers.c.pk, embeddings.c.model == model)
    )
    stmt = (
        sa.select(papers.c.pk, papers.c.title, papers.c.abstract)
        .select_from(joined)
        .where(embeddings.c.paper_pk.is_(None))
        .order_by(papers.c.pk)
        .limit(limit)
    )
    return [(int(r.pk), r.title, r.abstract) for r in conn.execute(stmt)]


def count_missing(*, conn: Connection, model: str) -> int:
    """How many papers have no vector for `model`."""
    have = sa.select(embeddings.c.paper_pk).where(embeddings.c.model == model)
    stmt = sa.select(sa.func.count()).select_from(papers).where(papers.c.pk.not_in(have))
    return int(conn.execute(stmt).scalar_one())


def load(
    *, conn: Connection, model: str, dim: int, paper_pks: Sequence[int] | None = None
) -> tuple[I64, F32]:
    """Stored vectors of `model` (all, or those of `paper_pks`), ordered by paper pk."""
    stmt = sa.select(embeddings.c.paper_pk, embeddings.c.vector).where(embeddings.c.model == model)
    if paper_pks is None:
        rows = conn.execute(stmt.order_by(embeddings.c.paper_pk)).all()
    else:
        wanted = sorted({int(p) for p in paper_pks})
        rows = []
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            rows.extend(conn.execute(stmt.where(embeddings.c.paper_pk.in_(chunk))).all())
        rows.sort(key=lambda r: r[0])
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    return pks, from_blobs([r[1] for r in rows], dim)


def pks_of(*, conn: Connection, paper_ids: Sequence[str]) -> dict[int, str]:
    """Paper ids by pk, for the ids that are stored."""
    wanted = list(dict.fromkeys(paper_ids))
    by_pk: dict[int, str] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        rows = conn.execute(
            sa.select(papers.c.pk, papers.c.id).where(papers.c.id.in_(wanted[start : start + _IN_CHUNK]))
        )
        by_pk.update((int(pk), str(pid)) for pk, pid in rows)
    return by_pk


def cosines(query: F32, pks: I64, matrix: F32) -> list[tuple[int, float]]:
    """(pk, cosine of `query` with the pk's unit vector) for each row."""
    norm = float(np.linalg.norm(query)) or 1.0
    scores = matrix.astype(np.float32) @ (query.astype(np.float32) / norm)
    return [(int(pk), float(score)) for pk, score in zip(pks, scores, strict=True)]


@dataclass(frozen=True, slots=True)
class Signature:
    """What a set of stored vectors is: enough to tell whether a derived index is current."""

    count: int
    newest: str  # ISO timestamp of the newest vector, "" when none

    def as_dict(self) -> dict[str, Any]:
        return {"count": self.count, "newest": self.newest}


def signature(*, conn: Connection, model: str) -> Signature:
    """Count and newest timestamp of the stored vectors of `model` (one indexed aggregate)."""
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.max(embeddings.c.created_at)).where(embeddings.c.model == model)
    ).one()
    newest = row[1]
    return Signature(int(row[0]), newest.isoformat() if isinstance(newest, datetime) else str(newest or ""))


def top_k(scores: F32, k: int) -> npt.NDArray[np.intp]:
    """Indices of the k highest scores, best first (argpartition, then sort only those)."""
    if k <= 0 or scores.size == 0:
        return np.zeros(0, dtype=np.intp)
    if k >= scores.size:
        return np.argsort(-scores, kind="stable")
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]


class ExactIndex:
    """All vectors in memory; a query is one matrix-vector product. Exact by construction."""

    def __init__(self, pks: I64, matrix: F32) -> None:
        self.pks = pks
        self.matrix = matrix
        self._row_of: dict[int, int] | None = None

    def __len__(self) -> int:
        return int(self.pks.size)

    def similarities(self, query: F32, pks: Sequence[int]) -> list[tuple[int, float]]:
        """(pk, cosine) for those of `pks` this index holds."""
        if self._row_of is None:  # built on first use: ~80k entries, a few ms once
            self._row_of = {int(pk): i for i, pk in enumerate(self.pks.tolist())}
        rows = [(pk, self._row_of[pk]) for pk in pks if pk in self._row_of]
        if not rows:
            return []
        held = np.array([pk for pk, _ in rows], dtype=np.int64)
        return cosines(query, held, self.matrix[[i for _, i in rows]])

    def search(self, query: F32, k: int, *, allowed: I64 | None = None) -> list[tuple[int, float]]:
        """The k nearest (pk, cosine) to `query`, restricted to `allowed` pks when given."""
        pks, matrix = self.pks, self.matrix
        if allowed is not None:
            mask = np.isin(pks, allowed, assume_unique=True)
            pks, matrix = pks[mask], matrix[mask]
        scores = matrix @ query.astype(np.float32)
        best = top_k(scores, k)
        return [(int(pks[i]), float(scores[i])) for i in best]


def newer(*, conn: Connection, model: str, dim: int, since: str) -> tuple[I64, F32, str]:
    """Vectors of `model` stored after `since` (an ISO timestamp; "" for all), and the newest one's
    timestamp (`since` when there are none). Read through ix_embeddings_model_created."""
    stmt = sa.select(embeddings.c.paper_pk, embeddings.c.vector, embeddings.c.created_at).where(
        embeddings.c.model == model
    )
    if since:
        stmt = stmt.where(embeddings.c.created_at > datetime.fromisoformat(since))
    rows = conn.execute(stmt).all()
    pks = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
    newest = max((r[2] for r in rows), default=None)
    return pks, from_blobs([r[1] for r in rows], dim), newest.isoformat() if newest else since


def count_newer(*, conn: Connection, model: str, since: str) -> int:
    """How many vectors of `model` were stored after `since` (an ISO timestamp)."""
    stmt = sa.select(sa.func.count()).where(embeddings.c.model == model)
    if since:
        stmt = stmt.where(embeddings.c.created_at > datetime.fromisoformat(since))
    return int(conn.execute(stmt).scalar_one())


def later(a: str, b: str) -> str:
    """The later of two ISO timestamps ("" is earliest); compared as times, not as strings."""
    if not a or not b:
        return a or b
    return a if datetime.fromisoformat(a) >= datetime.fromisoformat(b) else b


def stored_pks(*, conn: Connection, model: str, paper_pks: Sequence[int] | None = None) -> I64:
    """Pks of the papers with a vector for `model` (all, or those among `paper_pks`), sorted."""
    stmt = sa.select(embeddings.c.paper_pk).where(embeddings.c.model == model)
    if paper_pks is None:
        found = list(conn.execute(stmt).scalars())
    else:
        wanted = sorted({int(p) for p in paper_pks})
        found = []
        for start in range(0, len(wanted), _IN_CHUNK):
            found.extend(
                conn.execute(
                    stmt.where(embeddings.c.paper_pk.in_(wanted[start : start + _IN_CHUNK]))
                ).scalars()
            )
    return np.unique(np.asarray(found, dtype=np.int64))


def merge_delta(old: ExactIndex, pks: I64, matrix: F32) -> ExactIndex:
    """`old` with these vectors added; a pk already in it takes the newer vector."""
    if pks.size == 0:
        return old
    keep = ~np.isin(old.pks, pks)
    return ExactIndex(np.concatenate([old.pks[keep], pks]), np.concatenate([old.matrix[keep], matrix]))


@dataclass(frozen=True, slots=True)
class AnnState:
    """What a reader searches past the threshold: the shared file's view plus the vectors stored since
    it was saved, searched exactly. Swapped whole by a refresh, never changed."""

    view: AnnView
    delta: ExactIndex  # vectors stored (or re-embedded) after the file was saved
    seen: str  # the newest `created_at` read into `delta`
    superseded: frozenset[int]  # papers in the file whose vector `delta` replaces
    gone: int  # vectors in the file whose row is gone (paper deleted, text changed)


# A reader searches the vectors stored since the file was saved exactly, beside the graph. Measured
# (384-d, top 100, CPU time of one thread on these 2 shared cores, load average 15): 5,000 vectors
# 0.4 ms a search, 10,000 2.1 ms, 20,000 4.0 ms, 50,000 9.5 ms; each costs the process 1.5 kB of memory.
# Past 10,000 (2 ms, 15 MB) the reader catches the file up itself; the embed job keeps it under 5,000.
DELTA_LIMIT = 10_000
# Vectors in the file whose paper is gone are filtered out of each answer: the graph is asked for that
# many more (up to 1,000 extra neighbours cost ~1 ms at expansion 768); past it the file is rewritten.
GONE_LIMIT = 1_000


class VectorIndex:
    """Nearest-neighbour search for one model: exact while small, HNSW past `ann_threshold`.

    One instance per process (the web app, a CLI command), searched by many threads at once;
    `refresh` is cheap when nothing changed, and one thread at a time brings it up to date. Past the
    threshold it searches the host's shared file (search/ann.py) through a memory-mapped view plus,
    exactly, the vectors stored since; `catch_up` (the embed job, or a reader finding no usable file or
    too many new vectors) rewrites the file.
    """

    def __init__(
        self,
        *,
        model: str,
        dim: int,
        index_dir: Path,
        ann_threshold: int = 50_000,
        recheck_seconds: float = 0.0,
    ) -> None:
        self.model = model
        # How long a search trusts the last freshness check. Counting a model's vectors costs ~12 ms
        # at 80k, a fifth of a search; a web process checks every few seconds (new vectors show
        # after that), callers that store and search at once check every time (0).
        self.recheck_seconds = recheck_seconds
        self._checked = -math.inf
        self.dim = dim
        self.ann_threshold = ann_threshold
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model)
        self.ann_dir = index_dir / f"{safe}.hnsw"
        self._exact: ExactIndex | None = None
        self._ann: AnnState | None = None
        self._signature: Signature | None = None
        self._refreshing = threading.Lock()
        self.last_build_seconds = 0.0

    @property
    def kind(self) -> str:
        return "ann" if self._ann is not None else "exact"

    @property
    def ann_path(self) -> Path:
        """The file the current view maps."""
        assert self._ann is not None
        return self.ann_dir / self._ann.view.current.file

    def _stale(self, sig: Signature) -> bool:
        if sig != self._signature:
            return True
        # Another process may have published a newer file: view it and drop the delta it now holds.
        return self._ann is not None and Current.read(self.ann_dir) != self._ann.view.current

    def refresh(self, *, conn: Connection, wait: bool = True) -> None:
        """Bring the index up to date with the table.

        Without `wait`, a thread that finds another one already refreshing leaves it to that one and
        keeps answering from the current index (unless there is none yet: then it waits).
        """
        sig = signature(conn=conn, model=self.model)
        if not self._stale(sig):
            return
        if not self._refreshing.acquire(blocking=wait or self._signature is None):
            return
        try:
            if self._stale(sig):  # another thread may have caught up while this one waited
                self._rebuild(conn=conn, sig=sig)
        finally:
            self._refreshing.release()

    def _rebuild(self, *, conn: Connection, sig: Signature) -> None:
        t0 = time.perf_counter()
        if sig.count < self.ann_threshold:
            pks, matrix = load(conn=conn, model=self.model, dim=self.dim)
            self._exact, self._ann = ExactIndex(pks, matrix), None
        else:
            state = self._read_state(conn=conn, sig=sig)
            if state is None or state.gone < 0 or state.gone > GONE_LIMIT or len(state.delta) > DELTA_LIMIT:
                # With a usable view, a search never waits for another process's rewrite: it goes on
                # answering from the view and the delta, and looks again at the next check.
                self.catch_up(conn=conn, wait=state is None)
                state = self._read_state(conn=conn, sig=sig, reuse=False) or state
            if state is None:
                raise RuntimeError(f"ANN index {self.ann_dir} could not be opened after it was written")
            self._exact, self._ann = None, state
        self._signature = sig
        self.last_build_seconds = time.perf_counter() - t0

    def _read_state(self, *, conn: Connection, sig: Signature, reuse: bool = True) -> AnnState | None:
        """The shared file's view and the vectors stored since, or None when there is no usable file."""
        old = self._ann if reuse else None
        if old is not None and Current.read(self.ann_dir) == old.view.current:
            view, delta, since = old.view, old.delta, old.seen  # only read what is newer still
        else:
            opened = AnnView.open(self.ann_dir, self.dim)
            if opened is None:
                return None
            view, delta, since = (
                opened,
                ExactIndex(np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32)),
                opened.current.newest,
            )
        pks, matrix, seen = newer(conn=conn, model=self.model, dim=self.dim, since=since)
        delta = merge_delta(delta, pks, matrix)
        in_file = view.contains(delta.pks)
        superseded = frozenset(int(p) for p in delta.pks[in_file])
        gone = len(view) + int((~in_file).sum()) - sig.count
        return AnnState(view, delta, seen, superseded, gone)

    def catch_up(self, *, conn: Connection, min_new: int = 0, wait: bool = True) -> None:
        """Rewrite the host's shared file to hold every stored vector (one writer at a time per host):
        from the current file plus what changed since when it is usable, else from the table. With
        `min_new`, a usable file fewer than that many vectors behind is left as it is; without `wait`,
        nothing is done while another process is writing it."""
        with ann.writer_lock(self.ann_dir, wait=wait) as held:
            if not held:
                return
            current = Current.read(self.ann_dir)
            sig = signature(conn=conn, model=self.model)
            if current is not None and AnnView.open(self.ann_dir, self.dim) is not None:
                behind = count_newer(conn=conn, model=self.model, since=current.newest)
                if behind < max(min_new, 1) and current.count + behind == sig.count:
                    return  # current (another writer got there first), or close enough
            t0 = time.perf_counter()
            index, since = None, ""
            if current is not None:
                try:
                    index, since = ann.private_copy(self.ann_dir, current, self.dim), current.newest
                except RuntimeError:
                    index = None
            if index is None or len(index) != (current.count if current else -1):
                index, since = ann.new_index(self.dim), ""
            pks, matrix, newest = newer(conn=conn, model=self.model, dim=self.dim, since=since)
            ann.add(index, pks, matrix)
            have = stored_pks(conn=conn, model=self.model)
            keys = np.asarray(index.keys, dtype=np.int64) if len(index) else np.zeros(0, np.int64)
            stale = np.setdiff1d(keys, have, assume_unique=True)
            if stale.size:  # papers deleted, or their text changed: their vectors go
                index.remove(stale.astype(np.uint64))
            missing = np.setdiff1d(have, keys, assume_unique=True)
            missing = np.setdiff1d(missing, pks, assume_unique=True)
            if missing.size:  # stored with an older timestamp than the file's newest (a late commit)
                more_pks, more = load(conn=conn, model=self.model, dim=self.dim, paper_pks=missing.tolist())
                ann.add(index, more_pks, more)
            ann.publish(self.ann_dir, index, count=len(index), newest=later(newest, since))
            for legacy in (".usearch", ".json"):  # the one-file-per-process layout before #15
                self.ann_dir.with_suffix(legacy).unlink(missing_ok=True)
            log.info(
                "ANN index %s: %d vectors (%d new, %d gone) in %.1fs",
                self.ann_dir.name,
                len(index),
                pks.size + missing.size,
                stale.size,
                time.perf_counter() - t0,
            )

    def __len__(self) -> int:
        if self._ann is not None:
            return len(self._ann.view) - len(self._ann.superseded) - self._ann.gone + len(self._ann.delta)
        return len(self._exact) if self._exact is not None else 0

    def search(
        self, *, conn: Connection, query: F32, k: int, filters: Filters = Filters()
    ) -> list[tuple[int, float]]:
        """The k nearest (paper pk, cosine similarity) to `query` that pass `filters`, best first."""
        now = time.monotonic()
        if self._signature is None or now - self._checked >= self.recheck_seconds:
            self.refresh(conn=conn, wait=False)
            self._checked = now
        allowed = allowed_pks(conn=conn, filters=filters)
        # One read of each: a refresh on another thread swaps them, never changes them under us.
        exact, state = self._exact, self._ann
        if exact is not None:
            return exact.search(query, k, allowed=allowed)
        assert state is not None
        if allowed is not None and allowed.size <= max(self.ann_threshold, 20 * k):
            # A selective filter: exact search over the few papers it leaves is fast and exact.
            pks, matrix = load(conn=conn, model=self.model, dim=self.dim, paper_pks=allowed.tolist())
            return ExactIndex(pks, matrix).search(query, k)
        # The graph, asked for enough more to make up for what is dropped: vectors replaced by the
        # delta, papers gone, and (a broad filter) papers the filter leaves out.
        extra = len(state.superseded) + max(state.gone, 0)
        fetched = state.view.search(query, (k if allowed is None else k * 10) + extra)
        hits = [hit for hit in fetched if hit[0] not in state.superseded]
        if allowed is not None:
            keep = set(allowed.tolist())
            hits = [hit for hit in hits if hit[0] in keep]
        hits.extend(state.delta.search(query, k + max(state.gone, 0), allowed=allowed))
        hits.sort(key=lambda hit: -hit[1])
        if state.gone > 0:  # vectors whose row is gone, in the file or read into the delta before
            alive = set(stored_pks(conn=conn, model=self.model, paper_pks=[pk for pk, _ in hits]).tolist())
            hits = [hit for hit in hits if hit[0] in alive]
        return hits[:k]

    def vector_of(self, *, conn: Connection, paper_pk: int) -> F32 | None:
        """The stored vector of one paper, or None when it has none yet."""
        pks, matrix = load(conn=conn, model=self.model, dim=self.dim, paper_pks=[paper_pk])
        return matrix[0] if pks.size else None

    def similarities(self, *, conn: Connection, query: F32, pks: Sequence[int]) -> list[tuple[int, float]]:
        """(pk, cosine) of `query` with each of `pks` that has a vector."""
        # From the vectors in memory where they are: reading 90 random vectors from the table took
        # 2.5 ms CPU at 80k on SQLite (#14); a vector the graph lacks yet is read from the table.
        exact, state = self._exact, self._ann
        if exact is not None:
            found = exact.similarities(query, pks)
        elif state is not None:
            # The vectors stored since the file was saved first: a re-embedded paper's is newer.
            found = state.delta.similarities(query, pks)
            have = {pk for pk, _ in found}
            found += cosines(query, *state.view.vectors_of([pk for pk in pks if pk not in have]))
        else:
            found = []
        if len(found) < len(pks):
            have = {pk for pk, _ in found}
            rest = [pk for pk in pks if pk not in have]
            found += cosines(query, *load(conn=conn, model=self.model, dim=self.dim, paper_pks=rest))
        return found
