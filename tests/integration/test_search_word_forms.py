"""An excluded word leaves out its word forms in search (#13, item 5): `-benchmark` also excludes
"Benchmarking" and "benchmarks", in every mode and sort, in the page, the JSON and the feed, on both
databases (the keyword index on disk stems with Snowball English) — as the digest's filter does."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search import keyword
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from papertrend.search.service import Searcher
from papertrend.types import Mode, Sort
from tests.integration.web_support import make_web

BENCH_TITLE = "SemComp-Bench: Benchmarking semantic compression of language models"
BENCH = "2601.00021"  # "Benchmarking" in its title
PLURAL = "2601.00022"  # "benchmarks" in its abstract only
KEPT = ("2601.00023", "2601.00024")


def _record(pid: str, title: str, abstract: str, day: str) -> dict[str, Any]:
    return {
        "id": pid,
        "title": title,
        "abstract": abstract,
        "authors": ["Test Author"],
        "categories": ["cs.CL"],
        "first_listed": day,
    }


PAPERS = [
    _record(
        BENCH, BENCH_TITLE, "We measure semantic compression of language models on many tasks.", "2025-03-20"
    ),
    _record(
        PLURAL,
        "Semantic compression for retrieval",
        "Semantic compression of documents; we release three benchmarks for it.",
        "2025-03-19",
    ),
    _record(
        KEPT[0],
        "Semantic compression with sparse codes",
        "Semantic compression by sparse coding.",
        "2025-03-18",
    ),
    _record(
        KEPT[1], "Learned semantic compression", "A learned codec for semantic compression.", "2025-03-17"
    ),
    _record("2601.00025", "Protein folding", "Folding proteins with diffusion.", "2025-03-16"),
]
QUERIES = (
    "semantic compression -benchmark",
    "semantic compression -benchmarks",
    "semantic compression -Benchmarking",
    'semantic compression -"benchmark"',
    '"semantic compression" -benchmark',
)


@pytest.fixture
def db(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in PAPERS))
    report = run_ingest(engine=engine, source=make_source("jsonl", path=path))
    assert report.ok
    return engine


def _excluded_forms_gone(found: list[str]) -> None:
    assert BENCH not in found and PLURAL not in found, found
    assert set(KEPT) <= set(found), found


def test_the_query_finds_all_four_without_the_exclusion(db: Engine) -> None:
    with reading(db) as conn:
        found = [h.paper_id for h in keyword.search(conn=conn, query="semantic compression")]
    assert {BENCH, PLURAL, *KEPT} <= set(found)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("match", ["any", "all"])
def test_keyword_search_in_the_database_excludes_word_forms(db: Engine, query: str, match: Any) -> None:
    with reading(db) as conn:
        _excluded_forms_gone([h.paper_id for h in keyword.search(conn=conn, query=query, match=match)])


def test_holding_drops_word_forms_for_search_by_meaning(db: Engine) -> None:
    everyone = [BENCH, PLURAL, *KEPT]
    for query in QUERIES:
        with reading(db) as conn:
            assert keyword.holding(conn=conn, query=query, paper_ids=everyone) == list(KEPT), query


@pytest.fixture
def embedded(db: Engine) -> Engine:
    embed_missing(engine=db, embedder=get_embedder(FAST_MODEL))
    return db


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
@pytest.mark.parametrize("sort", ["relevance", "date"])
def test_every_mode_and_sort_excludes_word_forms(
    embedded: Engine, tmp_path: Path, mode: Mode, sort: Sort
) -> None:
    searcher = Searcher(engine=embedded, embedder=get_embedder(FAST_MODEL), index_dir=tmp_path / "index")
    for query in QUERIES[:3]:
        found = [h.paper_id for h in searcher.search(query=query, mode=mode, sort=sort, limit=50)]
        assert BENCH not in found and PLURAL not in found, (query, found)
        assert found, query


def test_the_page_the_json_and_the_feed_exclude_word_forms(embedded: Engine, settings: Settings) -> None:
    web = make_web(settings.model_copy(update={"embedding_model": FAST_MODEL}), embedded)
    for mode in ("keyword", "semantic", "hybrid"):
        for sort in ("relevance", "date"):
            q = f"q=semantic+compression+-benchmark&mode={mode}&sort={sort}"
            html = web.get(f"/search?{q}")
            assert html.status_code == 200
            shown = set(re.findall(r'href="/papers/(2601\.\d{5})"', html.text))
            assert shown and not shown & {BENCH, PLURAL}, (mode, sort, shown)
            api = web.get(f"/api/papers/search?{q}&limit=50")
            assert api.status_code == 200
            ids = {item["paper"]["id"] for item in api.json()}
            assert ids and not ids & {BENCH, PLURAL}, (mode, sort, ids)
            feed = web.get(f"/feeds/search.atom?{q}")
            assert feed.status_code == 200
            assert "SemComp" not in feed.text and "three benchmarks" not in feed.text, (mode, sort)
            assert "<entry>" in feed.text, (mode, sort)
