"""`papertrend embed`: give every paper a vector for the configured model (issues #3, #15).

Batched, resumable and shared: each batch is claimed (search.claims), embedded, then stored with its
claims dropped in one transaction, so any number of processes on any number of machines split the
backlog, a kill loses at most the batch in flight, and its papers are claimed again by the next
process to ask. Papers whose title or abstract changed lose their vector on update
(papers.repository), so they come back here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.leases import new_owner
from papertrend.search import claims, index, vectors
from papertrend.search.embedder import Embedder, document_text
from papertrend.search.model_files import Vectors

BATCH = 256
# Papers a claim on a GPU: the model takes ~1,024 texts a call there (search/minilm.py), and a claim of
# four calls keeps the per-transaction cost (claim, store, release) small beside the model's work.
GPU_CLAIM = 4096
# How long a claimed batch is held for a process on another machine that stops answering. A batch of
# 256 takes ~5 s with MiniLM on 2 cores (50 docs/s), so ten minutes is never reached by a live process;
# on the claimant's own host a dead pid frees its batch at once.
CLAIM_LEASE = timedelta(minutes=10)


@dataclass(slots=True)
class EmbedReport:
    """What one run did."""

    model: str
    embedded: int = 0
    remaining: int = 0
    seconds: float = 0.0

    @property
    def docs_per_second(self) -> float:
        return self.embedded / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        return (
            f"embed {self.model}: {self.embedded} papers embedded in {self.seconds:.1f}s "
            f"({self.docs_per_second:,.1f} docs/s), {self.remaining} left"
        )


ProgressFn = Callable[[int, int], None]  # (done so far, total at start)


def embed_missing(
    *,
    engine: Engine,
    embedder: Embedder,
    batch_size: int = BATCH,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    index_dir: Path | None = None,
    ann_threshold: int = 50_000,
) -> EmbedReport:
    """Embed papers that have no vector for `embedder.name` and no other process claimed, at most
    `limit` of them; stops when nothing is left to claim. Then brings the derived vector index up to
    date (on SQLite, the HNSW file under `index_dir`)."""
    report = EmbedReport(model=embedder.name)
    owner = new_owner()
    with reading(engine) as conn:
        total = vectors.count_missing(conn=conn, model=embedder.name)
    if limit is not None:
        total = min(total, limit)
    t0 = time.perf_counter()
    # The model runs on a thread of its own, one batch ahead: while it embeds batch n, this thread
    # stores batch n-1 and claims batch n+1, so the model (a GPU above all) never waits on the
    # database. At most two batches are claimed and unstored at once; a kill loses both claims to
    # the dead-owner rule, never a vector.
    in_flight: list[tuple[list[int], Future[Vectors]]] = []
    claimed = 0
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed-model") as model_thread:
        try:
            while True:
                todo = []
                if limit is None or claimed < limit:
                    want = batch_size if limit is None else min(batch_size, limit - claimed)
                    with transaction(engine) as conn:
                        todo = claims.claim(
                            conn=conn,
                            model=embedder.name,
                            owner=owner,
                            limit=want,
                            now=datetime.now(UTC),
                            lease=CLAIM_LEASE,
                        )
                    if todo:
                        claimed += len(todo)
                        texts = [document_text(title, abstract) for _, title, abstract in todo]
                        pks = [pk for pk, _, _ in todo]
                        in_flight.append((pks, model_thread.submit(embedder.embed, texts)))
                if not in_flight:
                    break
                if todo and len(in_flight) < 2:
                    continue  # the first batch: claim the next before waiting on it
                pks, future = in_flight[0]
                matrix = future.result()
                with transaction(engine) as conn:
                    vectors.store(
                        conn=conn, model=embedder.name, paper_pks=pks, vectors=matrix, now=datetime.now(UTC)
                    )
                    claims.release(conn=conn, model=embedder.name, owner=owner, paper_pks=pks)
                in_flight.pop(0)
                report.embedded += len(pks)
                total = max(total, report.embedded)
                if progress:
                    progress(report.embedded, total)
        except BaseException:
            # Give unstored batches back at once rather than after the lease (a failing model, ^C).
            for future in (f for _, f in in_flight):
                future.cancel()
            with transaction(engine) as conn:
                for pks, _ in in_flight:
                    claims.release(conn=conn, model=embedder.name, owner=owner, paper_pks=pks)
            raise
    if report.embedded:
        # SQLite's shared HNSW file is rewritten while only reading the table: no write lock held.
        with (transaction if engine.dialect.name == "postgresql" else reading)(engine) as conn:
            index.prepare(
                conn=conn,
                model=embedder.name,
                dim=embedder.dim,
                index_dir=index_dir,
                ann_threshold=ann_threshold,
            )
    report.seconds = time.perf_counter() - t0
    with reading(engine) as conn:
        report.remaining = vectors.count_missing(conn=conn, model=embedder.name)
    return report
