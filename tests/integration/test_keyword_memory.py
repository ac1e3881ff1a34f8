"""The in-memory BM25 index (search/bm25.py) against the database's keyword index (issue #3).

Same real papers and fixtures as test_keyword_search.py; every query is answered both ways and must
agree, and the index must follow the papers table as it changes.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.search import bm25, keyword
from papertrend.types import Filters, Hit
from tests.integration.test_keyword_search import WORD, _ingest, _write, db, real  # noqa: F401


@pytest.fixture
def memory(db: Engine) -> bm25.MemoryIndex:  # noqa: F811
    # Built in the calling thread and checked on every query, so tests see each change at once.
    return bm25.MemoryIndex(
        engine=db, threshold=0, weights=keyword.DEFAULT_WEIGHTS, background=False, check_every=0
    )


def both(engine: Engine, memory: bm25.MemoryIndex, query: str, **kwargs: Any) -> tuple[list[Hit], list[Hit]]:
    with reading(engine) as conn:
        from_db = keyword.search(conn=conn, query=query, **kwargs)
        from_memory = keyword.search(conn=conn, query=query, memory=memory, **kwargs)
    return from_db, from_memory


def ids(hits: list[Hit]) -> list[str]:
    return [h.paper_id for h in hits]


def test_it_answers_loose_words_and_leaves_phrases_to_the_database(
    db: Engine,  # noqa: F811
    memory: bm25.MemoryIndex,
) -> None:
    with reading(db) as conn:
        assert memory.ready(conn=conn) is not None
    # A query of loose words is ranked in memory: its scores are not the database's to the last bit.
    _, loose = both(db, memory, "gaussian splatting simulation", limit=10)
    assert loose and memory.postings is not None
    # Quoted phrases, every-word mode and excluded phrases need positions: the database answers.
    for query, kwargs in (('"gaussian splatting" street', {}), ("gaussian splatting", {"match": "all"})):
        from_db, from_memory = both(db, memory, query, limit=10, **kwargs)
        assert from_db == from_memory
    from_db, from_memory = both(db, memory, f'{WORD} -"filter fixture"')
    assert from_db == from_memory


def test_titles_find_their_paper_first_as_in_the_database(
    db: Engine,  # noqa: F811
    memory: bm25.MemoryIndex,
    real: list[dict[str, Any]],  # noqa: F811
) -> None:
    # FTS5 splits and stems as the index does; PostgreSQL's english dictionary stems a little
    # differently and drops more stopwords, so its lists share fewer papers.
    shared = 9 if db.dialect.name == "sqlite" else 6
    for record in real[:20]:
        title = " ".join(record["title"].split())
        from_db, from_memory = both(db, memory, title, limit=10)
        assert ids(from_memory)[:1] == [record["id"]] == ids(from_db)[:1], title
        assert len(set(ids(from_db)) & set(ids(from_memory))) >= shared, title


@pytest.mark.sqlite_only  # PostgreSQL's ranking stems with its own english dictionary
def test_scores_are_fts5s_bm25(db: Engine, memory: bm25.MemoryIndex) -> None:  # noqa: F811
    """Same formula, weights, idf and lengths: on SQLite the numbers match FTS5's bm25()."""
    for query in ("gaussian splatting simulation", f"{WORD} lattices", "Hopper", "robot grasping policy"):
        from_db, from_memory = both(db, memory, query, limit=20)
        assert ids(from_memory) == ids(from_db), query
        for a, b in zip(from_db, from_memory, strict=True):
            assert b.score == pytest.approx(a.score, rel=1e-4), (query, a.paper_id)


def test_weights_exclusions_authors_and_filters(db: Engine, memory: bm25.MemoryIndex) -> None:  # noqa: F811
    ranked = [pid for pid in ids(both(db, memory, f"{WORD} lattices")[1]) if pid.startswith("2601.0000")]
    assert ranked[:2] == ["2601.00001", "2601.00002"]  # title above abstract
    _, excluded = both(db, memory, f"{WORD} -early")
    assert "2601.00003" not in ids(excluded) and "2601.00001" in ids(excluded)
    assert ids(both(db, memory, "Hopper")[1]) == ["2601.00004"]
    fixtures = {"2601.00003", "2601.00004", "2601.00005"}
    for kwargs, expected in (
        ({}, fixtures),
        ({"since": date(2025, 6, 15)}, {"2601.00004", "2601.00005"}),
        ({"categories": ("cs.AI",)}, {"2601.00003"}),
        ({"authors": ("turing",)}, {"2601.00004", "2601.00005"}),
    ):
        from_db, from_memory = both(db, memory, f"{WORD} fixture", filters=Filters(**kwargs))
        assert set(ids(from_memory)) & fixtures == expected == set(ids(from_db)) & fixtures, kwargs
    # Other weights than the index was built with: the database ranks.
    flipped_db, flipped_memory = both(db, memory, f"{WORD} lattices", weights=(1.0, 5.0, 1.0))
    assert flipped_db == flipped_memory


@pytest.mark.parametrize("query", ['"', "((((", "AND OR NOT", "-", "-gaussian", "😀🔥", "x" * 10_000, "\x00"])
def test_hostile_queries_do_not_raise(db: Engine, memory: bm25.MemoryIndex, query: str) -> None:  # noqa: F811
    both(db, memory, query)
    both(db, memory, query, filters=Filters(categories=("cs.CV",)))


def test_it_follows_new_changed_and_deleted_papers(
    db: Engine,  # noqa: F811
    memory: bm25.MemoryIndex,
    tmp_path: Path,
    real: list[dict[str, Any]],  # noqa: F811
) -> None:
    gone, old = real[6], real[4]
    assert ids(both(db, memory, "StyleMorpheus")[1]) == [gone["id"]]
    with transaction(db) as conn:
        conn.execute(sa.text("DELETE FROM papers WHERE id = :id"), {"id": gone["id"]})
    assert ids(both(db, memory, "StyleMorpheus")[1]) == []
    changed = {**old, "id": f"{old['id']}v2", "title": f"Chromatic {WORD} renamed", "abstract": "New text."}
    new = {**old, "id": "2601.09999", "title": "Wombat lattices for everyone", "abstract": "Wombats."}
    _ingest(db, _write(tmp_path / "more.jsonl", [changed, new]))
    assert old["id"] not in ids(both(db, memory, "hypernetwork")[1])
    assert ids(both(db, memory, "chromatic renamed")[1])[:1] == [old["id"]]
    assert ids(both(db, memory, "wombat")[1]) == ["2601.09999"]


def test_below_the_threshold_the_database_ranks(db: Engine) -> None:  # noqa: F811
    small = bm25.MemoryIndex(engine=db, threshold=10**9, weights=keyword.DEFAULT_WEIGHTS, background=False)
    with reading(db) as conn:
        assert small.ready(conn=conn) is None


def test_the_tokenizer_splits_folds_and_stems_like_fts5s() -> None:
    tok = bm25.Tokenizer()
    assert tok("State-of-the-Art GPT-4o models") == ["state", "of", "the", "art", "gpt", "4o", "model"]
    assert tok("Métis naïve_Bayes") == ["meti", "naiv", "bay"]
    assert tok("") == []
