"""The JSON API as Hugging Face's papers API (#16): `/api/papers?cursor=` paging, the imported
Hugging Face fields, its error shape, `/bibtex`, and Hugging Face's own client library
(`huggingface_hub.HfApi(endpoint=…)`) reading a real server on 127.0.0.1."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.hf_daily import HfDailySource
from papertrend.library import bibtex
from papertrend.papers import repository
from papertrend.papers.tables import papers
from papertrend.web.app import create_app
from tests.browser.conftest import ServerThread
from tests.integration.web_support import (
    HOSTILE_ID,
    NOW,
    OLD_ID,
    SAMPLE_DAY,
    TOP_ID,
    Web,
    hf_item,
    load_papers,
    make_web,
    write_hf_day,
)


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def expected_order(engine: Engine) -> list[str]:
    """Every stored id in the documented order, worked out here from the rows themselves."""
    with engine.connect() as conn:
        rows = list(conn.execute(sa.select(papers.c.id, papers.c.published_at, papers.c.pk)))
    dated = sorted((r for r in rows if r.published_at is not None), key=lambda r: (r.published_at, r.pk))
    undated = sorted((r for r in rows if r.published_at is None), key=lambda r: r.pk)
    return [r.id for r in reversed(dated)] + [r.id for r in reversed(undated)]


def walk(web: Web, limit: int, between: Any = None) -> tuple[list[str], int]:
    """Follow `Link: rel="next"` from the first page to the last; the ids seen and the page count."""
    seen: list[str] = []
    url: str | None = f"/api/papers?limit={limit}"
    pages = 0
    while url:
        response = web.get(url)
        assert response.status_code == 200, response.text[:300]
        page = response.json()
        assert 0 < len(page) <= limit
        seen += [p["id"] for p in page]
        pages += 1
        url = response.links.get("next", {}).get("url")  # absolute, on the configured base URL
        if between is not None and pages == 1:
            between()
    return seen, pages


def test_papers_pages_through_everything_newest_published_first(web: Web, engine: Engine) -> None:
    expected = expected_order(engine)
    assert len(expected) == 39 and expected[-2:] == [OLD_ID, HOSTILE_ID]  # no publication time: last
    seen, pages = walk(web, limit=7)
    assert seen == expected and pages == 6
    assert [p["id"] for p in web.get("/api/papers").json()] == expected  # default limit: 50
    # One page of exactly the rest ends without a next link.
    last = web.get("/api/papers?limit=39")
    assert len(last.json()) == 39 and "link" not in last.headers


def test_a_paper_stored_mid_walk_shifts_no_page(web: Web, engine: Engine, tmp_path: Path) -> None:
    before = expected_order(engine)

    def store_a_newer_paper() -> None:
        item = hf_item("2612.00001", "Stored between two pages", 1, publishedAt="2026-12-01T00:00:00.000Z")
        report = run_ingest(
            engine=engine,
            source=HfDailySource(from_file=write_hf_day(tmp_path / "new", date(2026, 12, 1), [item])),
        )
        assert report.ok

    seen, _pages = walk(web, limit=5, between=store_a_newer_paper)
    # Offsets would have repeated the paper at the page boundary; the keyset neither repeats nor skips.
    assert seen == before
    assert expected_order(engine)[0] == "2612.00001"


def forged(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "abc",
        "!!!!",
        "%F0%9F%98%80",
        forged("yesterday|5"),
        forged("|0"),
        forged("|-3"),
        forged(f"|{2**40}"),
        forged("2026-08-20T00:00:00|5"),  # no time zone
        forged("2026-08-20T00:00:00+00:00|5") + "==",  # another spelling of a good one
        forged("2026-08-20T00:00:00+00:00|5|6"),
        base64.urlsafe_b64encode(b"\xff\xfe|5").decode(),
    ],
)
def test_a_cursor_this_server_did_not_make_is_a_clear_400(web: Web, cursor: str) -> None:
    response = web.get(f"/api/papers?cursor={cursor}")
    assert response.status_code == 400, response.text[:300]
    body = response.json()
    assert body["status"] == 400 and "cursor is not one this server gave out" in body["error"]


def test_a_cursor_it_made_is_accepted(web: Web) -> None:
    link = web.get("/api/papers?limit=3").links["next"]["url"]
    cursor = httpx.URL(link).params["cursor"]
    assert len(web.get(f"/api/papers?cursor={cursor}&limit=3").json()) == 3
    assert web.get(f"/api/papers?cursor={cursor}&limit=0").status_code == 422
    assert web.get("/api/papers?cursor=" + "A" * 201).status_code == 422


def test_hugging_face_parameters_not_taken_are_refused_not_ignored(web: Web) -> None:
    for url in ("/api/papers?search=agents", "/api/papers?q=agents"):
        response = web.get(url)
        assert response.status_code == 400 and "is not supported here" in response.json()["error"], url


@pytest.mark.parametrize("sort", ["publishedAt", "trending", "upvotes"])
def test_daily_papers_of_one_submitter(web: Web, sort: str) -> None:
    """Hugging Face's `submitter`: the period's papers that user put on the daily page, in the order
    the unfiltered list has them."""
    everything = web.get(f"/api/daily_papers?date={SAMPLE_DAY}&sort={sort}&limit=100").json()
    by_user: dict[str, list[str]] = {}
    for item in everything:
        if item["submittedBy"]:
            by_user.setdefault(item["submittedBy"]["user"], []).append(item["paper"]["id"])
    assert len(by_user) > 1 and sum(map(len, by_user.values())) == 17  # the 17 papers of the real day
    for user, expected in by_user.items():
        got = web.get(f"/api/daily_papers?date={SAMPLE_DAY}&sort={sort}&submitter={user}&limit=100").json()
        assert [i["paper"]["id"] for i in got] == expected, user
        assert all(i["submittedBy"]["user"] == user for i in got)
    busiest = max(by_user, key=lambda u: len(by_user[u]))
    paged = web.get(f"/api/daily_papers?date={SAMPLE_DAY}&sort={sort}&submitter={busiest}&limit=1&p=1").json()
    assert [i["paper"]["id"] for i in paged] == by_user[busiest][1:2]
    assert web.get("/api/daily_papers?week=2026-W34&submitter=nobody-at-all").json() == []


def test_imported_hugging_face_fields_in_its_names_and_types(web: Web) -> None:
    paper = web.get(f"/api/papers/{TOP_ID}").json()
    assert paper["submittedOnDailyBy"] == {
        "user": "taesiri",
        "fullname": "taesiri",
        "avatarUrl": "https://cdn-avatars.huggingface.co/v1/production/uploads/6039478ab3ecf716b1a5fd4d/"
        "_Thy4E7taiSYBLKxEKJbT.jpeg",
        "isPro": True,
        "type": "user",
    }
    assert paper["submittedOnDailyAt"] == "2026-08-21T00:00:00.000Z"
    assert isinstance(paper["ai_summary"], str) and paper["ai_summary"].startswith("EnvHarness")
    assert isinstance(paper["ai_keywords"], list) and all(isinstance(k, str) for k in paper["ai_keywords"])
    assert isinstance(paper["upvotes"], int) and isinstance(paper["numComments"], int)
    assert isinstance(paper["githubStars"], int)
    item = web.get(f"/api/daily_papers?date={SAMPLE_DAY}&sort=upvotes").json()[0]
    assert item["submittedBy"] == paper["submittedOnDailyBy"]
    assert item["paper"] == paper
    # A paper only arXiv knows has none of them.
    arxiv = web.get("/api/papers/2503.11731").json()
    assert arxiv["submittedOnDailyBy"] is None and arxiv["ai_summary"] is None


def test_bibtex_is_the_cite_export(web: Web, engine: Engine) -> None:
    response = web.get(f"/api/papers/arXiv:{TOP_ID}v1/bibtex")
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
    with reading(engine) as conn:
        stored = repository.get(conn=conn, paper_id=TOP_ID)
    assert stored is not None and response.text == bibtex.dumps([stored])
    assert (
        response.text.startswith("@misc{huang2026envharness,")
        and f"eprint = {{{{{TOP_ID}}}}}" in response.text
    )
    assert web.get(f"/papers/{TOP_ID}").text.count("@misc{") == 1  # the page's "Cite" shows the same entry
    missing = web.get("/api/papers/2601.00001/bibtex")
    assert missing.status_code == 404 and missing.json() == {
        "error": "Paper not found: 2601.00001 is not stored here.",
        "status": 404,
    }
    assert web.get("/api/papers/bogus/bibtex").status_code == 400


def test_every_paper_route_documents_the_404_in_hugging_faces_shape(web: Web) -> None:
    schema = web.get("/openapi.json").json()
    routes = [p for p in schema["paths"] if p.startswith("/api/papers/{paper_id}")]
    assert sorted(routes) == [
        "/api/papers/{paper_id}",
        "/api/papers/{paper_id}/bibtex",
        "/api/papers/{paper_id}/similar",
    ]
    for route in routes:
        documented = schema["paths"][route]["get"]["responses"]["404"]["content"]["application/json"][
            "schema"
        ]
        assert documented == {"$ref": "#/components/schemas/ApiError"}, route
        assert web.get(route.replace("{paper_id}", "2601.00001")).status_code == 404
    assert schema["components"]["schemas"]["ApiError"]["properties"]["error"]["type"] == "string"
    assert "Link" in schema["paths"]["/api/papers"]["get"]["responses"]["200"]["headers"]


@pytest.fixture
def server(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Iterator[str]:
    """The real app under uvicorn on 127.0.0.1 and a free port; its base URL."""
    load_papers(engine, fixture_data, tmp_path / "data")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(settings.model_copy(update={"base_url": base_url}), engine=engine, clock=lambda: NOW)
    thread = ServerThread(app, sock)
    thread.start()
    yield base_url
    thread.stop()


def test_hugging_faces_client_library_reads_a_papertrend_server(
    server: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """What docs/api.md promises: `HfApi(endpoint=…)`'s paper helpers work against Papertrend."""
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no token or cache of this machine's
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi(endpoint=server, token=False)  # as docs/api.md says: never send a Hugging Face token
    info = api.paper_info(TOP_ID)
    assert info.id == TOP_ID and info.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert info.upvotes == 163 and info.github_stars == 8 and info.project_page == "https://envharness.com/"
    assert info.submitted_by is not None and info.submitted_by.username == "taesiri"
    assert info.submitted_at is not None and info.submitted_at.date() == SAMPLE_DAY
    assert info.published_at is not None and info.published_at.isoformat() == "2026-08-20T00:00:00+00:00"
    assert info.ai_keywords and info.ai_summary and info.authors and info.authors[0].name == "Chengsong Huang"

    daily = list(api.list_daily_papers(date=SAMPLE_DAY.isoformat(), sort="trending", limit=5))
    assert len(daily) == 5 and daily[0].id == TOP_ID and daily[0].comments == 1
    assert daily[0].submitted_by is not None and daily[0].submitted_by.username == "taesiri"
    theirs = list(api.list_daily_papers(date=SAMPLE_DAY.isoformat(), submitter="taesiri"))
    assert theirs and all(p.submitted_by is not None and p.submitted_by.username == "taesiri" for p in theirs)
    week = list(api.list_daily_papers(week="2026-W34", p=1, limit=5))
    assert len(week) == 5 and not {p.id for p in week} & {
        p.id for p in api.list_daily_papers(week="2026-W34", limit=5)
    }

    assert api.read_paper(TOP_ID).startswith("# EnvHarness: Awakening Static Worlds for Agent Learning")
    found = list(api.list_papers(query="SWE-bench science", limit=3))
    assert 0 < len(found) <= 3 and all(p.id and p.title for p in found)

    with pytest.raises(HfHubHTTPError) as missing:
        api.paper_info("2601.00001")
    assert missing.value.response.status_code == 404
    assert "Paper not found: 2601.00001 is not stored here." in str(missing.value)
