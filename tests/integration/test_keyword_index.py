"""The keyword index on disk (search/tantivy_index.py, issue #15): shared by a host's processes,
updated by paper and only for changed text, one writer at a time, rebuilt from the database.

Same real papers as test_keyword_search.py (keyword_support.py).
"""

from __future__ import annotations

import gzip
import logging
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.leases import Leases
from papertrend.search import keyword
from papertrend.search.tantivy_index import KeywordIndex
from tests.integration.keyword_support import HF_DAYS, WORD, ids, ingest, ingested, real_papers, write


@pytest.fixture
def real(fixture_data: Path) -> list[dict[str, Any]]:
    return real_papers(fixture_data)


@pytest.fixture
def db(engine: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> Engine:
    return ingested(engine, tmp_path, real)


def test_it_lives_under_the_data_dir_and_another_process_reads_it(
    db: Engine,
    settings: Settings,
) -> None:
    index = keyword.open_index(engine=db)
    assert index.path.is_relative_to(settings.data_dir / "keyword")
    assert index.documents == 46
    # Another process on the host opens the same files and searches them without building anything.
    script = (
        "import sys; from papertrend.search.tantivy_index import KeywordIndex; import tantivy;"
        "ix = KeywordIndex(path=__import__('pathlib').Path(sys.argv[1]));"
        "q = tantivy.Query.term_query(ix.schema, 'text', sys.argv[2]);"
        "print(ix.documents, len(ix.searcher().search(q, 10).hits))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(index.path), WORD], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["46", "5"]


def test_a_second_handle_sees_each_commit(db: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> None:
    reader = KeywordIndex(path=keyword.open_index(engine=db).path)  # as another process holds it
    before = reader.documents
    new = {**real[0], "id": "2601.09999", "title": "Wombat lattices for everyone", "abstract": "Wombats."}
    ingest(db, write(tmp_path / "new.jsonl", [new]))
    reader.index.reload()  # tantivy reloads by itself within a second; the test does not wait
    assert reader.documents == before + 1


def test_it_follows_new_changed_and_deleted_papers(
    db: Engine,
    tmp_path: Path,
    real: list[dict[str, Any]],
) -> None:
    gone, old = real[6], real[4]
    assert ids(db, "StyleMorpheus") == [gone["id"]]
    with transaction(db) as conn:
        conn.execute(sa.text("DELETE FROM papers WHERE id = :id"), {"id": gone["id"]})
    assert ids(db, "StyleMorpheus") == []
    changed = {**old, "id": f"{old['id']}v2", "title": f"Chromatic {WORD} renamed", "abstract": "New text."}
    new = {**old, "id": "2601.09999", "title": "Wombat lattices for everyone", "abstract": "Wombats."}
    ingest(db, write(tmp_path / "more.jsonl", [changed, new]))
    assert old["id"] not in ids(db, "hypernetwork")
    assert ids(db, "chromatic renamed")[:1] == [old["id"]]
    assert ids(db, "wombat") == ["2601.09999"]
    index = keyword.open_index(engine=db)
    with reading(db) as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
    assert index.documents == total


def test_an_ingest_that_only_changes_upvotes_reindexes_nothing(
    engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    raw = gzip.decompress((fixture_data / HF_DAYS).read_bytes())
    days = [orjson.loads(line) for line in raw.splitlines()]
    first = tmp_path / "days.jsonl"
    first.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in days))
    assert run_ingest(engine=engine, source=make_source("hf-daily", from_file=first)).ok
    index = keyword.open_index(engine=engine)
    before = index.state()
    assert before.written > 0 and index.documents > 0
    for day in days:
        for item in day["papers"]:
            item["paper"]["upvotes"] = int(item["paper"].get("upvotes") or 0) + 7
    again = tmp_path / "days-again.jsonl"
    again.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in days))
    report = run_ingest(engine=engine, source=make_source("hf-daily", from_file=again))
    assert report.ok and report.updated > 0  # the upvotes moved, and with them papers.changed_at
    after = index.state()
    assert after.signature != before.signature  # the sync looked at the changed papers ...
    assert index.last_sync is not None and index.last_sync.read > 0
    assert (after.written, after.generation) == (before.written, before.generation)  # ... wrote none


def test_one_writer_per_host_under_a_lease(db: Engine, tmp_path: Path, real: list[dict[str, Any]]) -> None:
    index = keyword.open_index(engine=db)
    other = Leases(engine=db)
    assert other.acquire(name=index.lease_name, every=timedelta(0))
    new = {**real[0], "id": "2601.09998", "title": "Numbat lattices", "abstract": "Numbats."}
    ingest(db, write(tmp_path / "new.jsonl", [new]))
    assert keyword.sync(engine=db) is None  # the lease's holder writes; this process waits its turn
    assert ids(db, "numbat") == []
    other.release(name=index.lease_name, ok=True, summary="")
    assert ids(db, "numbat") == ["2601.09998"]


def test_an_index_of_another_schema_without_its_state_file_is_rebuilt(
    db: Engine,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # As an older version leaves it when its first build is killed before the state file is written
    # (tests/integration/test_ingest_crash.py hit it): the new schema failed to open ("An index
    # exists but the schema does not match") and every command and search with it.
    path = keyword.open_index(engine=db).path
    for child in path.iterdir():
        child.unlink()
    builder = tantivy.SchemaBuilder()
    builder.add_integer_field("pk", indexed=True, fast=True)
    builder.add_text_field("text")
    old = tantivy.Index(builder.build(), path=str(path))
    writer = old.writer(heap_size=15_000_000, num_threads=1)
    writer.add_document(tantivy.Document(pk=1, text=["an older index"]))
    writer.commit()
    del writer, old
    with caplog.at_level(logging.WARNING):
        index = KeywordIndex(path=path)
    assert "keyword.index_rebuilt: its schema changed" in caplog.text
    report = index.sync(engine=db)
    assert report is not None and report.written == index.documents == 46


def test_reindex_rebuilds_it_from_the_database(db: Engine) -> None:
    index = keyword.open_index(engine=db)
    first = ids(db, f"{WORD} lattices")
    report = keyword.sync(engine=db, full=True)
    assert report is not None and report.full and report.written == index.documents == 46
    assert ids(db, f"{WORD} lattices") == first


def test_the_reindex_command_rebuilds_it(db: Engine, settings: Settings) -> None:
    from typer.testing import CliRunner

    from papertrend.cli import app

    done = CliRunner().invoke(app, ["reindex"])
    assert done.exit_code == 0, done.output
    assert "46 papers; read 46, wrote 46" in " ".join(done.output.split())  # the console wraps lines
    caught_up = CliRunner().invoke(app, ["reindex", "--sync"])
    assert caught_up.exit_code == 0 and "wrote 0" in " ".join(caught_up.output.split()), caught_up.output
