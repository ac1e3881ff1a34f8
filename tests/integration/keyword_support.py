"""What the keyword search tests share (issues #3, #15): real papers from the fixture listing file and
made-up ones holding a word found nowhere else, ingested through the pipeline, and a search's ids."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search import keyword

HF_DAYS = "hf_daily_papers/daily_papers_7_days.jsonl.gz"
LISTING = "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz"
REAL_PAPERS = 40
# A made-up word that occurs nowhere in the real papers, so tests know exactly what it matches.
WORD = "quokkabench"


def record(pid: str, title: str, abstract: str, **extra: Any) -> dict[str, Any]:
    """A listing-file record with plain defaults."""
    return {
        "id": pid,
        "title": title,
        "abstract": abstract,
        "authors": extra.pop("authors", ["Test Author"]),
        "categories": extra.pop("categories", ["cs.CL"]),
        "first_listed": extra.pop("first_listed", "2025-03-18"),
        **extra,
    }


# Same lengths on purpose: the one difference between the two is where WORD stands.
TITLE_HIT = record(
    "2601.00001",
    f"{WORD} lattices for sparse retrieval",
    "We study sparse retrieval over lattices of documents and report gains on benchmarks.",
)
ABSTRACT_HIT = record(
    "2601.00002",
    "Sparse lattices for dense retrieval",
    f"We study {WORD} retrieval over lattices of documents and report gains on benchmarks.",
)
FILTERED = [
    record(
        "2601.00003",
        f"Early {WORD} paper",
        "Filter fixture.",
        first_listed="2025-01-10",
        categories=["cs.CV", "cs.AI"],
        authors=["Ada Lovelace"],
    ),
    record(
        "2601.00004",
        f"Middle {WORD} paper",
        "Filter fixture.",
        first_listed="2025-06-15",
        categories=["cs.LG"],
        authors=["Alan Turing", "Grace Hopper"],
    ),
    record(
        "2601.00005",
        f"Late {WORD} paper",
        "Filter fixture.",
        first_listed="2026-02-01",
        categories=["cs.CLX"],
        authors=["Alan Turingson"],
    ),
]
HOSTILE = record(
    "2601.00006",
    "<script>alert('x')</script> & escaping in titles",
    "An abstract with <b>markup</b> & an escaping problem for escaping tests.",
)


def write(path: Path, records: list[dict[str, Any]]) -> Path:
    """Records as a JSONL file."""
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def ingest(engine: Engine, path: Path) -> None:
    """Ingest a JSONL file; every record must be taken."""
    report = run_ingest(engine=engine, source=make_source("jsonl", path=path))
    assert report.ok and report.rejected == 0, report.summary()


def real_papers(fixture_data: Path) -> list[dict[str, Any]]:
    """The first REAL_PAPERS records of the fixture listing file."""
    with gzip.open(fixture_data / LISTING, "rb") as fh:
        return [orjson.loads(line) for line in itertools.islice(fh, REAL_PAPERS)]


def ingested(engine: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> Engine:
    """The store holding the real papers and the made-up ones above."""
    records = [*real, TITLE_HIT, ABSTRACT_HIT, *FILTERED, HOSTILE]
    ingest(engine, write(tmp_path / "papers.jsonl", records))
    return engine


def ids(engine: Engine, query: str, **kwargs: Any) -> list[str]:
    with reading(engine) as conn:
        return [h.paper_id for h in keyword.search(conn=conn, query=query, **kwargs)]
