"""British and American spellings find the same papers in every keyword backend (#14)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search import keyword
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.query import Match
from papertrend.search.service import Searcher
from papertrend.types import Mode


def _record(pid: str, title: str, abstract: str) -> dict[str, Any]:
    return {
        "id": pid,
        "title": title,
        "abstract": abstract,
        "authors": ["Test Author"],
        "categories": ["cs.CL"],
        "first_listed": "2025-03-18",
    }


PAPERS = [
    _record("2601.00011", "Simulating human behaviour with agents", "Agents that imitate people."),
    _record("2601.00012", "Human behavior of language agents", "We model how people act."),
    _record("2601.00013", "Modelling crowds", "Crowd behaviour under stress, optimised."),
    _record("2601.00014", "Colour constancy", "Colour and light in scenes."),
    _record("2601.00015", "Unrelated retrieval", "Sparse retrieval over lattices."),
]


@pytest.fixture
def db(engine: Engine, tmp_path: Path) -> Engine:
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in PAPERS))
    report = run_ingest(engine=engine, source=make_source("jsonl", path=path))
    assert report.ok
    return engine


def _ids(engine: Engine, query: str, *, match: Match = "any") -> list[str]:
    with reading(engine) as conn:
        return [h.paper_id for h in keyword.search(conn=conn, query=query, match=match)]


@pytest.mark.parametrize("match", ["any", "all"])
def test_both_spellings_find_the_same_papers(db: Engine, match: Match) -> None:
    british = _ids(db, "human behaviour", match=match)
    assert british == _ids(db, "human behavior", match=match)
    assert {"2601.00011", "2601.00012"} <= set(british)


def test_both_spellings_of_two_words_find_the_same_papers(db: Engine) -> None:
    british = _ids(db, "behaviour modeling")
    assert british == _ids(db, "behavior modelling")
    assert set(british) == {"2601.00011", "2601.00012", "2601.00013"}


def test_excluding_one_spelling_excludes_the_other(db: Engine) -> None:
    assert "2601.00014" not in _ids(db, "scenes light -color")
    assert _ids(db, "light") == ["2601.00014"]


@pytest.mark.parametrize("mode", ["semantic", "hybrid"])
def test_both_spellings_find_the_same_papers_by_meaning(db: Engine, tmp_path: Path, mode: Mode) -> None:
    embedder = get_embedder(DEFAULT_MODEL)
    embed_missing(engine=db, embedder=embedder)
    searcher = Searcher(engine=db, embedder=embedder, index_dir=tmp_path / "index")
    british = searcher.search(query="agents modelling human behaviour", mode=mode)
    american = searcher.search(query="agents modeling human behavior", mode=mode)
    assert british and british == american
