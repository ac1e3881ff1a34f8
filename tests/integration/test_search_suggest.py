""" "Did you mean" reads the stored papers' words, counted again when papers change (#14)."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from sqlalchemy.engine import Engine

from papertrend.db import reading
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search.suggest import VocabularyHolder


def _ingest(engine: Engine, path: Path, titles: list[str], start: int) -> None:
    records = [
        {
            "id": f"2601.{start + i:05d}",
            "title": title,
            "abstract": f"{title}, studied again.",
            "authors": ["A. Author"],
            "categories": ["cs.CL"],
            "first_listed": "2025-03-18",
        }
        for i, title in enumerate(titles)
    ]
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    assert run_ingest(engine=engine, source=make_source("jsonl", path=path)).ok


def _wait(holder: VocabularyHolder, engine: Engine, query: str) -> str | None:
    deadline = time.monotonic() + 10
    with reading(engine) as conn:
        while time.monotonic() < deadline:
            if holder.ready(conn=conn) is not None and not holder._building.locked():
                return holder.suggest(conn=conn, query=query)
            time.sleep(0.02)
    raise AssertionError("the vocabulary was never built")


def test_the_vocabulary_is_built_in_the_background_and_again_after_papers_change(
    engine: Engine, tmp_path: Path
) -> None:
    _ingest(engine, tmp_path / "a.jsonl", ["Transformers for vision"] * 3, 1)
    holder = VocabularyHolder(engine=engine, threshold=0, check_every=0)
    assert _wait(holder, engine, "tranformers") == "transformers"
    assert _wait(holder, engine, "quokkas") is None
    _ingest(engine, tmp_path / "b.jsonl", ["Quokkas in the wild"] * 3, 10)
    _wait(holder, engine, "x")  # the first look after the change starts the new build
    assert _wait(holder, engine, "qokkas") == "quokkas"
