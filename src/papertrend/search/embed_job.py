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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.leases import new_owner
from papertrend.search import claims, index, vectors
from papertrend.search.embedder import Embedder, document_text

BATCH = 256
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
) -> EmbedReport:
    """Embed papers that have no vector for `embedder.name` and no other process claimed, at most
    `limit` of them; stops when nothing is left to claim."""
    report = EmbedReport(model=embedder.name)
    owner = new_owner()
    with reading(engine) as conn:
        total = vectors.count_missing(conn=conn, model=embedder.name)
    if limit is not None:
        total = min(total, limit)
    t0 = time.perf_counter()
    while limit is None or report.embedded < limit:
        want = batch_size if limit is None else min(batch_size, limit - report.embedded)
        with transaction(engine) as conn:
            todo = claims.claim(
                conn=conn,
                model=embedder.name,
                owner=owner,
                limit=want,
                now=datetime.now(UTC),
                lease=CLAIM_LEASE,
            )
        if not todo:
            break
        pks = [pk for pk, _, _ in todo]
        try:
            matrix = embedder.embed([document_text(title, abstract) for _, title, abstract in todo])
        except BaseException:
            # Give the batch back at once rather than after the lease (a failing model, ^C).
            with transaction(engine) as conn:
                claims.release(conn=conn, model=embedder.name, owner=owner, paper_pks=pks)
            raise
        with transaction(engine) as conn:
            vectors.store(
                conn=conn, model=embedder.name, paper_pks=pks, vectors=matrix, now=datetime.now(UTC)
            )
            claims.release(conn=conn, model=embedder.name, owner=owner, paper_pks=pks)
        report.embedded += len(todo)
        total = max(total, report.embedded)
        if progress:
            progress(report.embedded, total)
    if report.embedded:
        with transaction(engine) as conn:
            index.prepare(conn=conn, model=embedder.name, dim=embedder.dim)
    report.seconds = time.perf_counter() - t0
    with reading(engine) as conn:
        report.remaining = vectors.count_missing(conn=conn, model=embedder.name)
    return report
