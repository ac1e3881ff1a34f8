"""Categories for papers only Hugging Face knows, from their arXiv records (#14)."""

from __future__ import annotations

from pathlib import Path

import orjson
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.ingest.backfill import CategoriesJob, backfill_categories
from papertrend.ingest.base import make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.papers import repository
from papertrend.worker import default_jobs
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


def test_the_worker_job_looks_up_under_a_lease_and_does_not_ask_again_for_unanswered_ids(
    settings: Settings, engine: Engine, replay: ReplayServer, fixture_data: Path, tmp_path: Path
) -> None:
    unknown = "2601.99999"  # arXiv answers without an entry for it (a withdrawn id, say)
    records = [
        {"id": NO_CATEGORIES, "title": "A paper seen on Hugging Face", "abstract": "x", "categories": []},
        {"id": unknown, "title": "Not on arXiv", "abstract": "z", "categories": []},
    ]
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert run_ingest(engine=engine, source=make_source("jsonl", path=path)).ok
    replay.add(
        "/api/query",
        fixture_data / API_2026 / "id_2104.12255v1_s0_m100_6ae69987ffe1.body.xml",
        query={"id_list": f"{unknown},{NO_CATEGORIES}"},  # newest first
    )
    local = settings.model_copy(
        update={"arxiv_api_url": f"{replay.url}/api/query", "arxiv_api_interval": 0.0}
    )
    job = {j.name: j for j in default_jobs(settings=local, engine=engine)}["categories"]
    assert not job.shared  # so it runs under its lease, in one worker at a time
    assert job.run() == "1 of 2 papers got categories from arXiv"
    # The unanswered id is not asked again by this process; nothing else lacks categories.
    assert job.run() == "0 of 0 papers got categories from arXiv"
    assert len(replay.requests) == 1
    with reading(engine) as conn:
        assert repository.ids_without_categories(conn=conn, limit=10) == [unknown]


def test_the_worker_job_stops_when_arxiv_is_unreachable(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "papers.jsonl"
    path.write_bytes(
        orjson.dumps({"id": NO_CATEGORIES, "title": "T", "abstract": "x", "categories": []}) + b"\n"
    )
    assert run_ingest(engine=engine, source=make_source("jsonl", path=path)).ok
    client = PoliteClient(user_agent="papertrend-tests", retries=0)
    job = CategoriesJob(engine=engine, client=client, base_url="http://127.0.0.1:9/api/query")
    summary = job()
    assert summary.startswith("0 of 1 papers got categories; stopped:")
    # An unreachable arXiv is not the paper's fault: it is asked for again next period.
    assert job.unanswered == set()
