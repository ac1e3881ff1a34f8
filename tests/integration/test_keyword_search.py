"""Keyword search on a real migrated database filled by the ingest pipeline (issue #3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.search import keyword
from papertrend.search.tantivy_index import TEXT
from papertrend.types import Filters
from tests.integration.keyword_support import (
    WORD,
    ids,
    ingest,
    ingested,
    real_papers,
    write,
)


@pytest.fixture
def real(fixture_data: Path) -> list[dict[str, Any]]:
    return real_papers(fixture_data)


@pytest.fixture
def db(engine: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> Engine:
    return ingested(engine, tmp_path, real)


def pk_of(engine: Engine, paper_id: str) -> int:
    with reading(engine) as conn:
        return int(
            conn.execute(sa.text("SELECT pk FROM papers WHERE id = :id"), {"id": paper_id}).scalar_one()
        )


def indexed(engine: Engine, word: str, pk: int) -> bool:
    """Whether the keyword index itself holds `pk` for the word, whether or not its paper row exists."""
    index = keyword.open_index(engine=engine)
    stem = index.analyzer.analyze(word)[0]
    holds = tantivy.Query.term_query(index.schema, TEXT, stem)
    query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, holds), (tantivy.Occur.Must, tantivy.Query.term_query(index.schema, "pk", pk))]
    )
    return bool(index.searcher().search(query, 1).hits)


def integrity_check(engine: Engine) -> None:
    """The keyword index holds each paper once and nothing else."""
    keyword.sync(engine=engine)
    index = keyword.open_index(engine=engine)
    with reading(engine) as conn:
        pks = sorted(conn.execute(sa.text("SELECT pk FROM papers")).scalars())
    assert sorted(index.all_pks().tolist()) == pks


def test_exact_title_finds_the_paper_first(db: Engine, real: list[dict[str, Any]]) -> None:
    for record in real[:10]:
        title = " ".join(record["title"].split())
        for match in ("any", "all"):
            assert ids(db, title, match=match)[:1] == [record["id"]], (title, match)


def test_hits_are_best_first_with_positive_scores(db: Engine) -> None:
    with reading(db) as conn:
        hits = keyword.search(conn=conn, query="gaussian splatting simulation", limit=10)
    assert hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert all(s > 0 for s in scores)
    assert len({h.paper_id for h in hits}) == len(hits)


def test_exact_phrase(db: Engine, real: list[dict[str, Any]]) -> None:
    # "Gaussian Splatting" occurs in several of the real titles; "splatting Gaussian" in none.
    found = ids(db, '"gaussian splatting"')
    assert "2503.11731" in found and "2503.12001" in found
    for pid in found:
        record = next(r for r in real if r["id"] == pid)
        text = " ".join(f"{record['title']} {record['abstract']}".lower().split())
        assert "gaussian splatting" in text.replace("-", " ")
    assert ids(db, '"splatting gaussian"') == []
    # A required phrase with optional words: every hit holds the phrase, the words only rank.
    assert set(ids(db, '"gaussian splatting" street')) == set(found)
    assert ids(db, '"gaussian splatting" street')[0] == "2503.12001"


def test_exclusion(db: Engine) -> None:
    assert set(ids(db, WORD)) >= {"2601.00001", "2601.00002", "2601.00003"}
    assert "2601.00003" not in ids(db, f"{WORD} -early")
    assert set(ids(db, f'{WORD} -"filter fixture"')) == {"2601.00001", "2601.00002"}


@pytest.mark.parametrize(
    "query",
    [
        '"',
        "((((",
        "AND OR NOT",
        "NEAR(gaussian splatting, 2)",
        "title:gaussian",
        "gauss*",
        "^splatting",
        "-",
        "-gaussian",
        "😀🔥",
        "'; DROP TABLE papers; --",
        'vision-language "unbalanced',
        "x" * 10_000,
        "state-of-the-art LLM's 3.5 GPT-4o",
        "\x00",
    ],
)
def test_hostile_queries_do_not_raise(db: Engine, query: str) -> None:
    for match in ("any", "all"):
        ids(db, query, match=match)
        ids(db, query, match=match, filters=Filters(categories=("cs.CV",)))


def test_nothing_searchable_returns_nothing(db: Engine) -> None:
    assert ids(db, "") == []
    assert ids(db, "?!") == []
    assert ids(db, "gaussian", limit=0) == []


def test_title_is_weighted_above_abstract(db: Engine) -> None:
    # The two are alike but for where the word stands.
    ranked = [pid for pid in ids(db, f"{WORD} lattices") if pid in ("2601.00001", "2601.00002")]
    assert ranked == ["2601.00001", "2601.00002"]


def test_authors_are_searchable(db: Engine) -> None:
    assert ids(db, "Hopper") == ["2601.00004"]
    assert ids(db, "Xianming Zeng", match="all")[:1] == ["2503.11731"]


def test_filters(db: Engine) -> None:
    fixtures = {"2601.00003", "2601.00004", "2601.00005"}

    def found(**kwargs: Any) -> set[str]:
        return set(ids(db, f"{WORD} fixture", filters=Filters(**kwargs))) & fixtures

    assert found() == fixtures
    assert found(since=date(2025, 6, 15)) == {"2601.00004", "2601.00005"}
    assert found(until=date(2025, 6, 15)) == {"2601.00003", "2601.00004"}
    assert found(since=date(2025, 2, 1), until=date(2025, 12, 31)) == {"2601.00004"}
    assert found(categories=("cs.AI",)) == {"2601.00003"}
    assert found(categories=("cs.CL",)) == set()  # never the prefix of "cs.CLX"
    assert found(categories=("cs.LG", "cs.CLX")) == {"2601.00004", "2601.00005"}
    assert found(authors=("turing",)) == {"2601.00004", "2601.00005"}
    assert found(authors=("lovelace",), categories=("cs.CV",)) == {"2601.00003"}
    # Filters keep the ranking: the limit applies after filtering.
    assert len(ids(db, WORD, limit=1, filters=Filters(authors=("Grace Hopper",)))) == 1


def test_a_new_version_reindexes_the_paper(db: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> None:
    old = real[4]  # "Color Matching Using Hypernetwork-Based Kolmogorov-Arnold Networks"
    assert ids(db, "Kolmogorov-Arnold hypernetwork")[:1] == [old["id"]]
    pk = pk_of(db, old["id"])
    assert indexed(db, "hypernetwork", pk)
    changed = {**old, "id": f"{old['id']}v2", "title": f"Chromatic {WORD} renamed", "abstract": "New text."}
    ingest(db, write(tmp_path / "v2.jsonl", [changed]))
    assert old["id"] not in ids(db, "Kolmogorov-Arnold hypernetwork")
    assert old["id"] not in ids(db, "hypernetwork")
    assert ids(db, "chromatic renamed", match="all") == [old["id"]]
    assert not indexed(db, "hypernetwork", pk)
    assert indexed(db, "chromatic", pk)
    assert pk_of(db, old["id"]) == pk
    integrity_check(db)


def test_a_deleted_paper_no_longer_matches(db: Engine, real: list[dict[str, Any]]) -> None:
    gone = real[6]  # "StyleMorpheus: A Style-Based 3D-Aware Morphable Face Model"
    assert ids(db, "StyleMorpheus") == [gone["id"]]
    pk = pk_of(db, gone["id"])
    assert indexed(db, "StyleMorpheus", pk)
    with transaction(db) as conn:
        conn.execute(sa.text("DELETE FROM papers WHERE id = :id"), {"id": gone["id"]})
    assert ids(db, "StyleMorpheus") == []
    # The index itself forgot it at the search's sync: the lookup of ids alone would hide a stale entry.
    assert not indexed(db, "StyleMorpheus", pk)
    integrity_check(db)
