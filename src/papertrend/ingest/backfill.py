"""Categories for papers only Hugging Face knows, looked up through the arXiv API (#14).

A Hugging Face daily paper arrives without arXiv categories, so category filters and listings could
not find it. Its arXiv record, fetched by id, carries them; the merge rule (papers/merge.py) lets an
arXiv record fill the bibliographic fields and keeps Hugging Face's signals.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import IngestReport, run_ingest
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from papertrend.papers import repository

# One arXiv API call answers up to this many ids (its page size).
BATCH = 100


def categories_source(
    *, engine: Engine, client: PoliteClient, base_url: str, limit: int = BATCH
) -> ArxivApiSource | None:
    """An arXiv API lookup of up to `limit` papers that have no categories; None if none lacks them."""
    with reading(engine) as conn:
        ids = repository.ids_without_categories(conn=conn, limit=limit)
    if not ids:
        return None
    return ArxivApiSource(client=client, base_url=base_url, id_list=ids, max_results=len(ids))


def backfill_categories(
    *, engine: Engine, client: PoliteClient, base_url: str, limit: int = BATCH
) -> IngestReport | None:
    """Fetch the arXiv records of papers without categories and store them; None if none lacks them."""
    source = categories_source(engine=engine, client=client, base_url=base_url, limit=limit)
    return run_ingest(engine=engine, source=source) if source is not None else None
