"""A 10,000-paper library through the pages (issue #13, bad input: "a library of 0 or 10,000 papers:
a clear message, nothing lost, no 5xx"): the library and collection pages, "For you", both exports
and one more save all answer, and every paper is kept.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.library import repository as library_repo
from papertrend.library import service
from papertrend.papers import repository as papers_repo
from papertrend.papers.models import PaperIn
from papertrend.search import vectors
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.integration.library_support import collection_id, library_web, sign_in
from tests.integration.web_support import NOW, TOP_ID, Web, page, parse_html

BIG = 10_000


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    return library_web(settings, engine, fixture_data, tmp_path)


def _big_library(engine: Engine, user_id: int) -> int:
    """10,000 stored papers with vectors, all in the reader's "Saved"; its collection id."""
    papers = [
        PaperIn(
            id=f"2501.{i:05d}",
            title=f"Paper {i} on sparse attention for long documents",
            abstract=f"We study item {i}: sparse attention, retrieval and long-context models.",
            authors=[f"Author {i % 97}"],
            categories=["cs.CL"],
            source="arxiv-api",
            published_at=datetime(2025, 1, 2, tzinfo=UTC),
            listed_on=datetime(2025, 1, 2).date(),
        )
        for i in range(BIG)
    ]
    dim = get_embedder(FAST_MODEL).dim
    rng = np.random.default_rng(13)
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=papers, now=NOW)
        pks = list(library_repo.pks_for_ids(conn=conn, paper_ids=[p.id for p in papers]).values())
        rows = rng.standard_normal((len(pks), dim)).astype(np.float32)
        rows /= np.linalg.norm(rows, axis=1, keepdims=True)
        vectors.store(conn=conn, model=FAST_MODEL, paper_pks=pks, vectors=rows, now=NOW)
        saved = service.default_collection(conn=conn, user_id=user_id, now=NOW)
        library_repo.add_papers(conn=conn, collection_id=saved.id, paper_pks=pks, now=NOW)
    return saved.id


def test_a_ten_thousand_paper_library_answers_everywhere_and_loses_nothing(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    saved = _big_library(engine, uid)
    library = page(web, "/library")
    assert "10,000" in library.text, library.text[:500]
    shown = web.get(f"/library/{saved}")
    assert shown.status_code == 200
    # The page shows the papers saved last and says the exports hold all 10,000; not 10,000 rows.
    assert shown.text.count('href="/papers/2501.') < BIG
    assert "the exports below hold all 10,000" in parse_html(shown.text).text
    for_you = web.get("/for-you")
    assert for_you.status_code == 200
    assert 'href="/papers/2501.' not in for_you.text  # never a paper already in the library
    bib = web.get(f"/library/{saved}/export.bib")
    assert bib.status_code == 200 and bib.text.count("@misc{") + bib.text.count("@article{") == BIG
    csl = web.get(f"/library/{saved}/export.json")
    assert csl.status_code == 200 and len(json.loads(csl.text)) == BIG
    # A full collection refuses one more paper with a clear message and keeps all it had; another
    # collection takes it.
    full = web.submit(f"/papers/{TOP_ID}/save", {"collection": str(saved)}, page="/")
    assert full.status_code == 400 and "at most 10,000 papers" in parse_html(full.text).text
    made = web.submit("/library/collections", {"name": "More"}, page="/library")
    assert made.status_code == 303
    other = collection_id(engine, uid, "More")
    more = web.submit(f"/papers/{TOP_ID}/save", {"collection": str(other)}, page="/")
    assert more.status_code == 303
    with reading(engine) as conn:
        kept = service.entries(conn=conn, user_id=uid, collection_id=saved)
        extra = service.entries(conn=conn, user_id=uid, collection_id=other)
    assert len(kept) == BIG and TOP_ID not in {e.paper_id for e in kept}
    assert [e.paper_id for e in extra] == [TOP_ID]
