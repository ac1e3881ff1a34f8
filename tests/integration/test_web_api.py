"""The JSON API and /healthz, in-process, each test its own database (issue #4)."""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import transaction
from papertrend.ingest.tables import ingest_runs
from papertrend.logs import JsonFormatter
from papertrend.search import keyword
from papertrend.web.lifespan import offline_probe
from tests.integration.web_support import (
    ARXIV_PER_DAY,
    HOSTILE_ID,
    HOSTILE_TITLE,
    OLD_ID,
    TOP_ID,
    Web,
    load_papers,
    make_web,
    parse_html,
)


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def get_json(web: Web, url: str, status: int = 200) -> Any:
    response = web.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def error_message(body: dict[str, Any]) -> str:
    """The message of an error: `{"error": "…"}` under /api/ (Hugging Face's shape), else
    `{"error": {"message": "…"}}`."""
    error = body["error"]
    return error if isinstance(error, str) else str(error["message"])


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["paper"]["id"] for item in items]


def test_daily_papers_has_hugging_faces_shape(web: Web) -> None:
    items = get_json(web, "/api/daily_papers?sort=upvotes")
    assert len(items) == 18 and items[0]["paper"]["id"] == TOP_ID
    item = items[0]
    assert item["title"] == item["paper"]["title"] == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert item["summary"] == item["paper"]["summary"]
    assert item["summary"].startswith("LLM agents learn by interacting with environments")
    assert item["numComments"] == 1
    assert item["publishedAt"] == "2026-08-21T00:00:00.000Z"
    paper = item["paper"]
    assert paper["authors"][0] == {"name": "Chengsong Huang", "hidden": False} and len(paper["authors"]) == 17
    assert paper["publishedAt"] == "2026-08-20T00:00:00.000Z"
    assert paper["upvotes"] == 163 and paper["hfUpvotes"] == 163
    assert paper["githubRepo"] == "https://github.com/google-research/envharness"
    assert paper["githubStars"] == 8
    assert paper["projectPage"] == "https://envharness.com/"
    assert paper["ai_keywords"] and paper["ai_summary"]
    assert paper["arxivUrl"] == f"https://arxiv.org/abs/{TOP_ID}"
    assert paper["url"] == f"http://127.0.0.1:8000/papers/{TOP_ID}"


def test_daily_papers_periods_sorts_and_pages(web: Web) -> None:
    by_votes = ids(get_json(web, "/api/daily_papers?date=2026-08-21&sort=upvotes"))
    by_trend = ids(get_json(web, "/api/daily_papers?date=2026-08-21&sort=trending"))
    assert by_votes == by_trend  # one day: every paper has the same age
    week = get_json(web, "/api/daily_papers?week=2026-W34&sort=trending&limit=100")
    assert len(week) == 19 and ids(week)[0] == TOP_ID
    assert all(isinstance(item["score"], float) for item in week)
    assert ids(get_json(web, "/api/daily_papers?week=2026-W34&sort=upvotes"))[0] == OLD_ID
    newest = get_json(web, "/api/daily_papers?week=2026-W34&sort=publishedAt&limit=100")
    assert ids(newest)[-1] == OLD_ID and newest[0]["score"] is None
    march = get_json(web, "/api/daily_papers?month=2025-03&limit=100")
    assert len(march) == 2 * ARXIV_PER_DAY
    assert march[0]["paper"]["categories"] and march[0]["paper"]["listedOn"] == "2025-03-21"
    first = ids(get_json(web, "/api/daily_papers?month=2025-03&limit=7&p=0"))
    second = ids(get_json(web, "/api/daily_papers?month=2025-03&limit=7&p=1"))
    assert len(first) == len(second) == 7 and not set(first) & set(second)
    assert get_json(web, "/api/daily_papers?date=2025-03-19") == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("limit=0", 422),
        ("limit=101", 422),
        ("limit=abc", 422),
        ("p=-1", 422),
        ("sort=hottest", 422),
        ("date=yesterday", 400),
        ("week=2026-W99", 400),
        ("month=2026-13", 400),
        ("date=2026-08-21&month=2026-08", 400),
        # A NUL reached PostgreSQL's text and was a 500 there (schemathesis, 300 examples a route).
        ("submitter=%00", 400),
        ("submitter=ak%0Ahsieh", 400),
    ],
)
def test_invalid_parameters_are_4xx_json(web: Web, query: str, status: int) -> None:
    body = get_json(web, f"/api/daily_papers?{query}", status=status)
    assert body["status"] == status and isinstance(body["error"], str) and body["error"]


def test_one_paper_and_its_errors(web: Web) -> None:
    paper = get_json(web, f"/api/papers/{TOP_ID}")
    assert paper["id"] == TOP_ID and paper["upvotes"] == 163
    assert get_json(web, f"/api/papers/arXiv:{TOP_ID}v3")["id"] == TOP_ID
    # Hugging Face's error shape, which its client library reads (#16).
    assert get_json(web, "/api/papers/2601.00001", status=404) == {
        "error": "Paper not found: 2601.00001 is not stored here.",
        "status": 404,
    }
    assert "not an arXiv id" in get_json(web, "/api/papers/bogus", status=400)["error"]
    assert get_json(web, "/api/papers/2503.11731")["categories"] == ["cs.CV", "cs.RO"]
    # Unvetted links from a source are dropped, text comes back as it was (JSON needs no escaping).
    hostile = get_json(web, f"/api/papers/{HOSTILE_ID}")
    assert hostile["title"] == HOSTILE_TITLE and hostile["githubRepo"] is None
    assert get_json(web, f"/api/papers/{TOP_ID}/similar") == []  # nothing embedded
    assert get_json(web, "/api/papers/2601.00001/similar", status=404)["status"] == 404


def test_search(web: Web) -> None:
    response = web.get("/api/papers/search?q=SWE-bench+science&mode=keyword&limit=5")
    assert response.status_code == 200 and response.headers["x-search-mode"] == "keyword"
    items = response.json()
    assert items[0]["paper"]["id"] == "2608.19799" and len(items) <= 5
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    in_cv = ids(get_json(web, "/api/papers/search?q=gaussian+splatting&mode=keyword&category=cs.CV"))
    assert "2503.11731" in in_cv
    in_cl = get_json(web, "/api/papers/search?q=gaussian+splatting&mode=keyword&category=cs.CL")
    assert "2503.11731" not in ids(in_cl) and all("cs.CL" in item["paper"]["categories"] for item in in_cl)
    assert get_json(web, "/api/papers/search", status=422)["status"] == 422
    assert get_json(web, "/api/papers/search?q=x&mode=magic", status=422)["details"]
    assert get_json(web, "/api/papers/search?q=x&since=2026-02-30", status=400)["status"] == 400
    assert get_json(web, "/api/papers/search?q=x&since=2026-02-01&until=2026-01-01", status=400)
    assert get_json(web, "/api/papers/search?q=%20%20") == []


def test_search_refuses_a_page_parameter_rather_than_answering_page_one_again(web: Web) -> None:
    for name in ("p", "page", "offset"):
        refused = get_json(web, f"/api/papers/search?q=agents&{name}=2", status=400)
        assert f"`{name}` is not supported here" in refused["error"] and "limit" in refused["error"]


def test_trending(web: Web) -> None:
    day = get_json(web, "/api/trending")
    assert ids(day)[0] == TOP_ID and OLD_ID not in ids(day)
    week = ids(get_json(web, "/api/trending?window=week&limit=100"))
    assert week.index(TOP_ID) < week.index(OLD_ID)
    assert ids(get_json(web, "/api/trending?window=week&sort=upvotes"))[0] == OLD_ID
    assert get_json(web, "/api/trending?window=decade", status=422)["status"] == 422


def test_empty_store_answers_empty_lists(settings: Settings, engine: Engine) -> None:
    web = make_web(settings, engine)
    assert get_json(web, "/api/daily_papers") == []
    assert get_json(web, "/api/trending") == []
    health = get_json(web, "/healthz")
    assert health["status"] == "ok" and health["papers"] == 0 and health["ingest"] == {}


def test_healthz_reports_the_last_successful_ingest_per_source(web: Web, engine: Engine) -> None:
    health = get_json(web, "/healthz")
    assert health["status"] == "ok" and health["database"] is True
    assert health["papers"] == 17 + 2 + 2 * ARXIV_PER_DAY and health["latestDay"] == "2026-08-21"
    assert set(health["ingest"]) == {"hf-daily", "jsonl"}
    hf = health["ingest"]["hf-daily"]
    assert hf["lastRunOk"] is True and hf["lastSuccessAt"] == hf["lastRunAt"]
    with transaction(engine) as conn:
        later = datetime(2099, 1, 1, tzinfo=UTC)
        conn.execute(
            sa.insert(ingest_runs).values(
                source="hf-daily", started_at=later, finished_at=later, ok=False, added=0, updated=0,
                unchanged=0, rejected=0, error="connection failed",
            )
        )  # fmt: skip
    hf_after = get_json(web, "/healthz")["ingest"]["hf-daily"]
    assert hf_after["lastRunOk"] is False and hf_after["lastError"] == "connection failed"
    assert hf_after["lastRunAt"].startswith("2099-01-01") and hf_after["lastSuccessAt"] == hf["lastSuccessAt"]
    assert health["keywordIndex"] == "ready"  # tests sync it in each search, not on a thread


def test_healthz_says_warming_until_the_keyword_index_is_synced(
    settings: Settings, engine: Engine, fixture_data: Path
) -> None:
    load_papers(engine, fixture_data, settings.data_dir / "load")
    web = make_web(settings, engine)
    words = keyword.open_index(engine=engine)  # the one the app opened: one per database and process
    words.state_now = "building"  # as a web process starts (lifespan's start_keyword_index)
    assert web.get("/healthz").status_code == 503
    words.start(engine=engine)  # its thread syncs it, here already up to date
    deadline = time.monotonic() + 30
    states: list[tuple[int, str]] = []
    try:
        while (not states or states[-1][1] != "ready") and time.monotonic() < deadline:
            if states:
                time.sleep(0.05)
            answer = web.get("/healthz")  # 503 while the thread syncs (200-only was racy on PostgreSQL)
            states.append((answer.status_code, answer.json()["keywordIndex"]))
    finally:
        words.stop()  # or its thread outlives the test, and the PostgreSQL cluster
    assert states[-1] == (200, "ready"), states
    assert all(code == 503 for code, state in states if state == "building"), states
    assert get_json(web, "/api/papers/search?q=model&mode=keyword&limit=5")


def test_healthz_says_when_the_database_is_unreachable(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "not-a-database.db"
    folder.mkdir()  # SQLite cannot open a directory
    broken = sa.create_engine(f"sqlite:///{folder}")
    web = make_web(settings, broken)
    response = web.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error" and body["database"] is False and body["databaseError"]


def test_openapi_and_offline_docs(web: Web) -> None:
    spec = get_json(web, "/openapi.json")
    for path in (
        "/api/daily_papers",
        "/api/trending",
        "/api/papers/search",
        "/api/papers/{paper_id}",
        "/healthz",
    ):
        assert path in spec["paths"], path
    assert "/feeds/trending.atom" in spec["paths"]
    docs = web.get("/docs")
    assert docs.status_code == 200
    html = parse_html(docs.text)
    assert html.inline_script == []
    sources = [s["src"] for s in html.scripts]
    assert all(src.startswith("/") for src in sources)  # no CDN: works with no network
    for src in sources:
        assert web.get(src).status_code == 200, src
    assert "unsafe-inline" not in docs.headers["content-security-policy"].split("script-src")[1].split(";")[0]


def test_api_errors_are_json_with_security_headers(web: Web) -> None:
    response = web.get("/api/nothing-here")
    assert response.status_code == 404 and response.json()["status"] == 404
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_one_structured_log_line_per_request(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="papertrend.web")
    web.get("/api/trending?window=week")
    web.get("/nope")
    requests = [r for r in caplog.records if r.name == "papertrend.web" and r.getMessage() == "request"]
    assert [(r.path, r.status) for r in requests] == [("/api/trending", 200), ("/nope", 404)]  # type: ignore[attr-defined]
    line = json.loads(JsonFormatter().format(requests[0]))
    assert line["event"] == "request" and line["level"] == "info" and line["logger"] == "papertrend.web"
    assert line["method"] == "GET" and line["status"] == 200 and isinstance(line["ms"], float)
    assert "\n" not in JsonFormatter().format(requests[0])


def test_startup_logs_the_state_and_how_to_load_papers(
    settings: Settings, engine: Engine, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.INFO, logger="papertrend.web")
    app = make_web(settings, engine).app

    async def start_and_stop() -> None:
        async with app.router.lifespan_context(app):
            pass

    anyio.run(start_and_stop)
    events = [r.getMessage() for r in caplog.records if r.name == "papertrend.web"]
    assert "startup" in events
    assert any("papertrend ingest jsonl FILE" in e for e in events)
    assert any("papertrend ingest sample" in e for e in events)

    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    caplog.clear()
    offline_probe(settings)
    (record,) = [r for r in caplog.records if r.name == "papertrend.web"]
    assert record.levelno == logging.WARNING and record.getMessage().startswith("network.offline")
    assert "papertrend ingest jsonl FILE" in record.getMessage()
    assert "papertrend ingest sample" in record.getMessage()


# ------------------------------------------------------------------------------------- #12's findings


def test_head_answers_like_get_without_a_body(web: Web, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="papertrend.web")
    for url in (
        "/",
        "/healthz",
        "/feeds/trending.atom",
        "/feeds/daily.atom?date=2026-08-21",
        "/api/daily_papers",
        "/api/trending?window=week",
        f"/api/papers/{TOP_ID}",
        f"/papers/{TOP_ID}",
    ):
        got = web.get(url)
        head = web.request("HEAD", url)
        assert head.status_code == got.status_code == 200, (url, head.status_code)
        assert head.content == b"", url
        assert head.headers["content-type"] == got.headers["content-type"], url
        assert head.headers["x-content-type-options"] == "nosniff", url
    assert web.request("HEAD", "/api/papers/2408.99999").status_code == 404
    # The access log says what was asked.
    methods = {r.method for r in caplog.records if r.getMessage() == "request"}  # type: ignore[attr-defined]
    assert methods == {"GET", "HEAD"}


def test_openapi_documents_patterns_and_not_found(web: Web) -> None:
    schema = get_json(web, "/openapi.json")
    params = {p["name"]: p["schema"] for p in schema["paths"]["/api/daily_papers"]["get"]["parameters"]}
    for name in ("date", "week", "month"):
        # Beside `anyOf` [string, null]: JSON Schema applies `pattern` to strings only.
        assert params[name]["pattern"].startswith("^"), name
    search = {p["name"]: p["schema"] for p in schema["paths"]["/api/papers/search"]["get"]["parameters"]}
    assert "pattern" in json.dumps(search["category"]) and '"maxItems": 20' in json.dumps(search["category"])
    paper = schema["paths"]["/api/papers/{paper_id}"]["get"]
    assert paper["parameters"][0]["schema"]["pattern"].startswith("^")
    assert "404" in paper["responses"]
    feed = schema["paths"]["/feeds/daily.atom"]["get"]["responses"]["400"]["content"]
    assert list(feed) == ["application/json"]


def test_feed_errors_are_the_json_the_schema_documents(web: Web) -> None:
    response = web.get("/feeds/daily.atom?date=nope")
    assert response.status_code == 400 and response.headers["content-type"] == "application/json"
    assert "is not a date" in response.json()["error"]["message"]
    # A browser that opens a broken feed link still gets a page.
    page = web.get("/feeds/daily.atom?date=nope", headers={"accept": "text/html,*/*"})
    assert page.status_code == 400 and page.headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    "query",
    [
        "&".join(f"category=cs.A{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(21)),
        "category=" + ",".join(f"cs.A{chr(65 + i // 26)}{chr(65 + i % 26)}" for i in range(500)),
        "&".join(["category=cs.CL"] * 500),
        "category=" + "x" * 5000,
    ],
    ids=["21 values", "500 in one value", "500 repeated", "one long value"],
)
def test_filter_counts_and_lengths_are_capped(web: Web, query: str) -> None:
    for url in ("/api/papers/search?q=agents&mode=keyword", "/feeds/search.atom?q=agents&mode=keyword"):
        response = web.get(f"{url}&{query}")
        assert response.status_code == 400, (url, response.status_code)
        assert "at most" in error_message(response.json())
    assert web.get(f"/search?q=agents&mode=keyword&{query}").status_code == 400
    # Twenty is allowed, in any mix of values.
    twenty = ",".join(f"cs.A{chr(65 + i)}" for i in range(10))
    params = f"q=agents&mode=keyword&category={twenty}&category=cs.CL,cs.CV,{twenty}"
    assert web.get(f"/search?{params}").status_code == 200
    # …and then each is checked: made-up ones are named, not silently ignored (#14).
    response = web.get(f"/api/papers/search?{params}")
    assert response.status_code == 400
    message = response.json()["error"]
    assert "at most" not in message and "no paper here is in category 'cs.AA'" in message


def test_the_search_warms_before_any_search_and_healthz_says_so(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    from papertrend.search.embed_job import embed_missing
    from papertrend.search.embedder import FAST_MODEL, get_embedder

    load_papers(engine, fixture_data, tmp_path / "data")
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    web = make_web(settings.model_copy(update={"embedding_model": FAST_MODEL}), engine)
    holder = web.app.state.papertrend.search
    # A test process does not warm at start (every test app would load a model); the web process
    # does, in a thread beside its first requests (#15).
    assert get_json(web, "/healthz")["vectorIndex"] == "cold"
    holder.vectors = "warming"
    warming = web.get("/healthz")
    assert warming.status_code == 503 and warming.json()["status"] == "warming"
    holder.warm()
    health = get_json(web, "/healthz")
    assert health["status"] == "ok" and health["vectorIndex"] == "ready"
    # The index is built: the first search finds it so, instead of building it itself.
    searcher = holder._searcher
    assert searcher is not None and len(searcher.index) > 0
    # So is "did you mean"'s vocabulary: mapped from the file the keyword writer keeps (#15).
    assert holder.vocabulary.vocabulary is not None


def test_warming_without_a_model_says_unavailable(settings: Settings, engine: Engine) -> None:
    web = make_web(settings.model_copy(update={"embedding_model": "no-such-model"}), engine)
    web.app.state.papertrend.search.warm()
    assert get_json(web, "/healthz")["vectorIndex"] == "unavailable"
    # "Did you mean" needs no model: its vocabulary is mapped at start all the same.
    assert web.app.state.papertrend.search.vocabulary.vocabulary is not None
