"""`papertrend embed`: give every paper a vector for the configured model (issue #3).

Batched and resumable: each batch is embedded, then stored in its own transaction, so a kill loses
at most the batch in flight and the next run picks up the papers still without a vector. Papers
whose title or abstract changed lose their vector on update (papers.repository), so they come back
here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.search import index, vectors
from papertrend.search.embedder import Embedder, document_text

BATCH = 256


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
    """Embed papers that have no vector for `embedder.name`, at most `limit` of them."""
    report = EmbedReport(model=embedder.name)
    with reading(engine) as conn:
        total = vectors.count_missing(conn=conn, model=embedder.name)
    if limit is not None:
        total = min(total, limit)
    t0 = time.perf_counter()
    while report.embedded < total:
        with reading(engine) as conn:
            todo = vectors.missing(
                conn=conn, model=embedder.name, limit=min(batch_size, total - report.embedded)
            )
        if not todo:
            break
        matrix = embedder.embed([document_text(title, abstract) for _, title, abstract in todo])
        with transaction(engine) as conn:
            vectors.store(
                conn=conn,
                model=embedder.name,
                paper_pks=[pk for pk, _, _ in todo],
                vectors=matrix,
                now=datetime.now(UTC),
            )
        report.embedded += len(todo)
        if progress:
            progress(report.embedded, total)
    if report.embedded:
        with transaction(engine) as conn:
            index.prepare(conn=conn, model=embedder.name, dim=embedder.dim)
    report.seconds = time.perf_counter() - t0
    with reading(engine) as conn:
        report.remaining = vectors.count_missing(conn=conn, model=embedder.name)
    return report
