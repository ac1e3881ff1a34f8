"""A query in another language finds no papers only because they share its language (#14)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from sqlalchemy.engine import Engine

from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.service import Searcher
from papertrend.types import Mode


def _paper(pid: str, title: str, abstract: str) -> dict[str, object]:
    return {
        "id": pid,
        "title": title,
        "abstract": abstract,
        "authors": ["A. Author"],
        "categories": ["cs.CL"],
        "first_listed": "2025-03-18",
    }


TRANSLATION = "2601.00021"
UNRELATED_FRENCH = ("2601.00022", "2601.00023")
PAPERS = [
    _paper(
        TRANSLATION,
        "Neural machine translation with large language models",
        "We translate between French and English with large language models and report BLEU.",
    ),
    _paper(
        UNRELATED_FRENCH[0],
        "La cuisine des volcans de la Réunion",
        "Une étude de la température des laves et de leur écoulement pour la géologie des volcans.",
    ),
    _paper(
        UNRELATED_FRENCH[1],
        "Les oiseaux migrateurs de la Camargue",
        "Nous comptons les oiseaux et les nids dans les marais pour la protection des espèces.",
    ),
    _paper("2601.00024", "Graph neural networks for molecules", "Message passing over molecular graphs."),
]


@pytest.fixture
def searcher(engine: Engine, tmp_path: Path) -> Searcher:
    path = tmp_path / "papers.jsonl"
    path.write_bytes(b"".join(orjson.dumps(p) + b"\n" for p in PAPERS))
    assert run_ingest(engine=engine, source=make_source("jsonl", path=path)).ok
    embedder = get_embedder(DEFAULT_MODEL)
    embed_missing(engine=engine, embedder=embedder)
    return Searcher(engine=engine, embedder=embedder, index_dir=tmp_path / "index")


@pytest.mark.parametrize("mode", ["keyword", "semantic", "hybrid"])
def test_a_french_query_does_not_find_french_papers_on_other_subjects(searcher: Searcher, mode: Mode) -> None:
    found = [h.paper_id for h in searcher.search(query="la traduction de textes pour les langues", mode=mode)]
    assert not set(found) & set(UNRELATED_FRENCH), found


def test_a_chinese_query_finds_nothing_rather_than_anything(searcher: Searcher) -> None:
    assert searcher.search(query="大语言模型的推理能力", mode="hybrid") == []
