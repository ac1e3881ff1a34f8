"""Categories for papers only Hugging Face knows, looked up through the arXiv API (#14).

A Hugging Face daily paper arrives without arXiv categories, so category filters and listings could
not find it. Its arXiv record, fetched by id, carries them; the merge rule (papers/merge.py) lets an
arXiv record fill the bibliographic fields and keeps Hugging Face's signals.

`papertrend ingest categories` looks up one batch by hand; the worker's "categories" job
(`CategoriesJob`) looks up a few batches per period under its lease.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import IngestReport, run_ingest
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from papertrend.papers import repository

# One arXiv API call answers up to this many ids (its page size).
BATCH = 100
# Batches per worker run: arXiv asks for 3 s between calls, so 10 take about half a minute and look
# up 1,000 papers; the 9,877 papers of the Hugging Face archive are covered in 10 periods.
BATCHES_PER_RUN = 10


def lacking(*, engine: Engine, limit: int, skip: Collection[str] = ()) -> list[str]:
    """Up to `limit` ids of papers without categories, newest first, leaving out `skip`."""
    with reading(engine) as conn:
        ids = repository.ids_without_categories(conn=conn, limit=limit + len(skip))
    return [i for i in ids if i not in skip][:limit]


def categories_source(
    *, engine: Engine, client: PoliteClient, base_url: str, limit: int = BATCH, skip: Collection[str] = ()
) -> ArxivApiSource | None:
    """An arXiv API lookup of up to `limit` papers that have no categories; None if none lacks them."""
    ids = lacking(engine=engine, limit=limit, skip=skip)
    if not ids:
        return None
    return ArxivApiSource(client=client, base_url=base_url, id_list=ids, max_results=len(ids))


def backfill_categories(
    *, engine: Engine, client: PoliteClient, base_url: str, limit: int = BATCH, skip: Collection[str] = ()
) -> IngestReport | None:
    """Fetch the arXiv records of papers without categories and store them; None if none lacks them."""
    source = categories_source(engine=engine, client=client, base_url=base_url, limit=limit, skip=skip)
    return run_ingest(engine=engine, source=source) if source is not None else None


class CategoriesJob:
    """The worker's categories job: a few batches per run through one polite client.

    Ids that arXiv answered without categories (withdrawn, or not on arXiv) are remembered for the
    process's life and not asked again, so they cannot hold the newest batch forever.
    """

    def __init__(
        self, *, engine: Engine, client: PoliteClient, base_url: str, batches: int = BATCHES_PER_RUN
    ) -> None:
        self.engine = engine
        self.client = client
        self.base_url = base_url
        self.batches = batches
        self.unanswered: set[str] = set()

    def __call__(self) -> str:
        """Look up batches until none lacks categories, a batch fails or `batches` ran; a summary."""
        found = asked = 0
        for _ in range(self.batches):
            ids = lacking(engine=self.engine, limit=BATCH, skip=self.unanswered)
            if not ids:
                break
            source = ArxivApiSource(
                client=self.client, base_url=self.base_url, id_list=ids, max_results=len(ids)
            )
            report = run_ingest(engine=self.engine, source=source)
            still = set(lacking(engine=self.engine, limit=len(ids) + BATCH, skip=self.unanswered))
            missed = still.intersection(ids)
            asked += len(ids)
            found += len(ids) - len(missed)
            if not report.ok:
                # Offline or refused: try these again next period, not now.
                return f"{found} of {asked} papers got categories; stopped: {report.summary()}"
            self.unanswered |= missed
            if len(ids) < BATCH:
                break
        return f"{found} of {asked} papers got categories from arXiv"
