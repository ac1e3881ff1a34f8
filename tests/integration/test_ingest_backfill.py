"""Categories for papers only Hugging Face knows, from their arXiv records (#14)."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.backfill import backfill_categories
from papertrend.ingest.base import make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.papers import repository
from tests.replay import ReplayServer

API_2026 = "arxiv_api_fixtures/api_atom/recorded_2026_arxiv_py"
NO_CATEGORIES = "2104.12255"


def test_papers_without_categories_get_them_from_arxiv(
    engine: Engine, replay: ReplayServer, fixture_data: Path, tmp_path: Path
) -> None:
    records = [
        {"id": NO_CATEGORIES, "title": "A paper seen on Hugging Face", "abstract": "x", "categories": []},
        {"id": "2601.00031", "title": "Has them", "abstract": "y", "categories": ["cs.CL"]},
    ]
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert run_ingest(engine=engine, source=make_source("jsonl", path=path)).ok
    replay.add(
        "/api/query",
        fixture_data / API_2026 / "id_2104.12255v1_s0_m100_6ae69987ffe1.body.xml",
        query={"id_list": NO_CATEGORIES},
    )
    with PoliteClient(user_agent="papertrend-tests", min_interval=0.0) as client:
        report = backfill_categories(engine=engine, client=client, base_url=f"{replay.url}/api/query")
        assert report is not None and report.ok, report
        # Only the paper that lacked them was looked up, and nothing lacks them now.
        assert [r.query.get("id_list") for r in replay.requests] == [NO_CATEGORIES]
        assert backfill_categories(engine=engine, client=client, base_url=f"{replay.url}/api/query") is None
    with reading(engine) as conn:
        paper = repository.get(conn=conn, paper_id=NO_CATEGORIES)
    assert paper is not None and "cs.CR" in paper.categories
