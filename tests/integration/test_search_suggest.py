""" "Did you mean" reads the stored papers' words from a file the keyword writer keeps (#14, #15)."""

from __future__ import annotations

import gzip
import logging
import threading
import time
from pathlib import Path
from urllib.parse import unquote

import orjson
import pytest
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.ingest.base import make_source
from papertrend.ingest.pipeline import run_ingest
from papertrend.search import keyword, vocabulary
from papertrend.search.suggest import VocabularyHolder
from tests.integration.keyword_support import HF_DAYS
from tests.integration.web_support import load_papers, make_web, page


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


def _suggest(holder: VocabularyHolder, engine: Engine, query: str) -> str | None:
    with reading(engine) as conn:
        return holder.suggest(conn=conn, query=query)


def test_the_vocabulary_follows_the_papers_without_reading_them_again(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ingest(engine, tmp_path / "a.jsonl", ["Transformers for vision"] * 3, 1)
    index = keyword.open_index(engine=engine)
    holder = VocabularyHolder(engine=engine, index=index)
    assert _suggest(holder, engine, "tranformers") == "transformers"
    assert _suggest(holder, engine, "quokkas") is None
    first = holder.vocabulary
    assert first is not None and first.papers == 3
    # The file is written from the index's own words: no paper is read from the database for it.
    monkeypatch.setattr(vocabulary, "count", None)
    monkeypatch.setattr(vocabulary, "words_of", None)
    _ingest(engine, tmp_path / "b.jsonl", ["Quokkas in the wild"] * 3, 10)
    assert _suggest(holder, engine, "qokkas") == "quokkas"
    assert holder.vocabulary is not first and holder.vocabulary is not None
    assert holder.vocabulary.papers == 6


def test_a_changed_or_deleted_paper_no_longer_counts_its_old_words(engine: Engine, tmp_path: Path) -> None:
    _ingest(engine, tmp_path / "a.jsonl", ["Quokkas in the wild"] * 3 + ["Wombats at home"] * 7, 1)
    index = keyword.open_index(engine=engine)
    vocab = index.vocabulary.open()
    assert vocab is not None and vocab.count("quokkas") == 3
    # One paper rewritten (its old document is only marked deleted in its segment), one deleted.
    _ingest(engine, tmp_path / "b.jsonl", ["Numbats in the wild"], 1)
    with transaction(engine) as conn:
        conn.execute(sa.text("DELETE FROM papers WHERE id = '2601.00010'"))
    assert keyword.sync(engine=engine) is not None
    vocab = index.vocabulary.open()
    assert vocab is not None and vocab.papers == 9
    assert (vocab.count("quokkas"), vocab.count("numbats"), vocab.count("wild")) == (2, 1, 3)
    assert (vocab.count("wombats"), vocab.count("home")) == (6, 6)


def test_upvotes_and_stars_never_touch_the_vocabulary(
    engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    days = [
        orjson.loads(line) for line in gzip.decompress((fixture_data / HF_DAYS).read_bytes()).splitlines()
    ]
    first = tmp_path / "days.jsonl"
    first.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in days))
    assert run_ingest(engine=engine, source=make_source("hf-daily", from_file=first)).ok
    path = keyword.open_index(engine=engine).vocabulary.path
    before = (path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes())
    for day in days:
        for item in day["papers"]:
            item["paper"]["upvotes"] = int(item["paper"].get("upvotes") or 0) + 7
            item["paper"]["githubStars"] = int(item["paper"].get("githubStars") or 0) + 3
    again = tmp_path / "days-again.jsonl"
    again.write_bytes(b"".join(orjson.dumps(d) + b"\n" for d in days))
    report = run_ingest(engine=engine, source=make_source("hf-daily", from_file=again))
    assert report.ok and report.updated > 0  # papers.changed_at moved ...
    assert keyword.sync(engine=engine) is not None  # ... and the writer looked at them again
    assert (path.stat().st_ino, path.stat().st_mtime_ns, path.read_bytes()) == before


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_file_is_logged_and_rebuilt_and_no_search_fails(
    damage: str,
    settings: Settings,
    engine: Engine,
    fixture_data: Path,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    load_papers(engine, fixture_data, tmp_path / "data")
    web = make_web(settings, engine)
    path = keyword.open_index(engine=engine).vocabulary.path
    if damage == "missing":  # as after an upgrade from a version that counted words in each process
        path.unlink()
    else:
        path.write_bytes(path.read_bytes()[:100])
    with caplog.at_level(logging.INFO):
        html = page(web, "/search?q=agnets+for+coding&mode=keyword")
    assert "Did you mean agents for coding" in html.text
    if damage == "corrupt":
        assert "search.vocabulary_unreadable" in caplog.text
    assert "search.vocabulary_built" in caplog.text
    with reading(engine) as conn:
        total = conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one()
    vocab = keyword.open_index(engine=engine).vocabulary.open()
    assert vocab is not None and vocab.papers == total


def test_a_fresh_store_gets_an_empty_vocabulary_then_the_first_papers(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    web = make_web(settings, engine)
    holder = web.app.state.papertrend.search
    holder.vocabulary.warm()
    assert holder.vocabulary.vocabulary is not None and len(holder.vocabulary.vocabulary) == 0
    assert web.get("/api/papers/search?q=tranformers&mode=keyword").status_code == 200
    _ingest(engine, tmp_path / "a.jsonl", ["Transformers for vision"] * 3, 1)
    response = web.get("/api/papers/search?q=tranformers&mode=keyword")
    assert response.status_code == 200 and response.headers["x-did-you-mean"] == "transformers"


def test_a_web_process_is_ready_while_its_sync_thread_rebuilds_the_vocabulary(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    load_papers(engine, fixture_data, tmp_path / "data")
    web = make_web(settings, engine)
    words = keyword.open_index(engine=engine)
    words.vocabulary.path.unlink()  # as after an upgrade: the index is synced, its vocabulary not yet
    counting = threading.Event()
    release = threading.Event()
    build = vocabulary.of_index

    def slow(searcher: tantivy.Searcher, field: str) -> bytes:
        counting.set()
        release.wait(30)
        return build(searcher, field)

    monkeypatch.setattr(vocabulary, "of_index", slow)
    words.state_now = "building"  # as a web process starts (lifespan's start_keyword_index)
    words.start(engine=engine)
    try:
        assert counting.wait(30)
        health = web.get("/healthz")  # the keyword index answers while "did you mean" is rebuilt
        assert health.status_code == 200 and health.json()["keywordIndex"] == "ready"
        assert "x-did-you-mean" not in web.get("/api/papers/search?q=agnets&mode=keyword").headers
        release.set()
        deadline = time.monotonic() + 30
        while words.vocabulary.open() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        release.set()
        words.stop()
    response = web.get("/api/papers/search?q=agnets&mode=keyword")
    assert unquote(response.headers["x-did-you-mean"]) == "agents"


def test_a_failure_counting_words_never_fails_the_index_and_is_counted_again(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    build, calls = vocabulary.of_index, []

    def fails_once(searcher: tantivy.Searcher, field: str) -> bytes:
        calls.append(field)
        if len(calls) == 1:
            raise MemoryError("as a dictionary too big for the host would")
        return build(searcher, field)

    monkeypatch.setattr(vocabulary, "of_index", fails_once)
    monkeypatch.setattr(vocabulary.VocabularyFile, "RETRY_S", 0.0)
    caplog.set_level(logging.INFO)
    _ingest(engine, tmp_path / "a.jsonl", ["Transformers for vision"] * 3 + ["Quokkas at dawn"] * 2, 1)
    index = keyword.open_index(engine=engine)
    assert index.documents == 5 and "search.vocabulary_failed" in caplog.text
    assert index.vocabulary.open() is None and index.vocabulary.needs_build()
    assert keyword.sync(engine=engine) is not None  # the next sync writes it, with nothing to index
    assert "search.vocabulary_built" in caplog.text
    vocab = index.vocabulary.open()
    assert vocab is not None and vocab.papers == 5 and vocab.count("transformers") == 3
