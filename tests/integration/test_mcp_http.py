"""The MCP server over Streamable HTTP at /mcp in the web app (issue #16): the SDK's client against a
real uvicorn server on 127.0.0.1; off by default; limited per client IP; loopback or the public host only."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from mcp import Client
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.search.embedder import FAST_MODEL
from papertrend.web.app import create_app
from tests.browser.conftest import ServerThread
from tests.digest_support import add_papers, paper
from tests.integration.mcp_support import embedded_store, text_of
from tests.integration.web_support import NOW, SAMPLE_DAY, TOP_ID, make_web

JSON_RPC_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
PING = {"jsonrpc": "2.0", "id": 1, "method": "ping"}


@pytest.fixture
def serve(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> Iterator[Callable[..., str]]:
    """A function that starts the app with /mcp on (and the given settings) and returns its base URL."""
    embedded_store(engine, fixture_data, tmp_path / "data")
    servers: list[ServerThread] = []

    def start(**overrides: object) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        update = {"base_url": base_url, "embedding_model": FAST_MODEL, "mcp_http": True, **overrides}
        server = ServerThread(
            create_app(settings.model_copy(update=update), engine=engine, clock=lambda: NOW), sock
        )
        server.start()
        servers.append(server)
        return base_url

    yield start
    for server in servers:
        server.stop()


def test_the_sdk_client_calls_the_tools_over_http(serve: Callable[..., str]) -> None:
    base_url = serve()

    async def run() -> None:
        async with Client(f"{base_url}/mcp", read_timeout_seconds=60) as client:
            names = {t.name for t in (await client.list_tools()).tools}
            assert "search_papers" in names and "get_paper" in names
            found = await client.call_tool(
                "search_papers", {"query": "can coding agents reproduce scientific software"}
            )
            assert not found.is_error and "\n1. 2608.19799 · " in text_of(found)
            paper = text_of(await client.call_tool("get_paper", {"paper_id": f"arXiv:{TOP_ID}v1"}))
            # The same text as the markdown page, with this server's links.
            with httpx.Client(base_url=base_url) as http:
                assert paper == http.get(f"/papers/{TOP_ID}.md").text
            assert f"[Papertrend]({base_url}/papers/{TOP_ID})" in paper
            bad = await client.call_tool("search_papers", {"query": "q" * 10_000, "limit": -5})
            assert bad.is_error and "at most 2000 characters" in text_of(bad)
            still = await client.call_tool("trending", {"window": "month"})
            assert not still.is_error and text_of(still).startswith("Trending papers")

    anyio.run(run)


def test_mcp_is_off_unless_enabled(settings: Settings, engine: Engine) -> None:
    web = make_web(settings, engine)
    assert not settings.mcp_http
    response = web.post("/mcp", json=PING, headers=JSON_RPC_HEADERS)
    assert response.status_code == 404


def test_each_client_ip_gets_its_requests_a_minute(serve: Callable[..., str]) -> None:
    base_url = serve(mcp_per_ip_per_minute=3)
    with httpx.Client(base_url=base_url) as http:
        answers = [http.post("/mcp", json=PING, headers=JSON_RPC_HEADERS) for _ in range(5)]
    assert [r.status_code for r in answers[:3]] == [200, 200, 200], [r.text for r in answers[:3]]
    assert answers[0].json()["id"] == 1
    for limited in answers[3:]:
        assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
        assert "More than 3 MCP requests a minute" in limited.json()["error"]["message"]


def test_requests_for_another_host_are_refused(serve: Callable[..., str]) -> None:
    base_url = serve()
    with httpx.Client(base_url=base_url) as http:
        rebound = http.post("/mcp", json=PING, headers={**JSON_RPC_HEADERS, "host": "attacker.example"})
        assert rebound.status_code == 421
        foreign = http.post(
            "/mcp", json=PING, headers={**JSON_RPC_HEADERS, "origin": "https://attacker.example"}
        )
        assert foreign.status_code == 403
        too_big = http.post("/mcp", content=b"[" + b"1," * 40_000 + b"1]", headers=JSON_RPC_HEADERS)
        assert too_big.status_code == 413
        assert http.post("/mcp", json=PING, headers=JSON_RPC_HEADERS).status_code == 200


def test_hugging_face_hub_reads_papertrend_where_routes_match(serve: Callable[..., str]) -> None:
    """docs/agents.md says existing Hugging Face tooling works pointed at Papertrend: check it does."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=serve())
    info = api.paper_info(TOP_ID)
    assert info.id == TOP_ID and info.title == "EnvHarness: Awakening Static Worlds for Agent Learning"
    assert info.upvotes == 163 and info.authors and info.authors[0].name == "Chengsong Huang"
    daily = list(api.list_daily_papers(date="2026-08-21", sort="trending", limit=5))
    assert len(daily) == 5 and all(p.id and p.title and p.published_at for p in daily)
    found = list(api.list_papers(query="can coding agents reproduce scientific software", limit=3))
    assert found[0].id == "2608.19799"


def test_tool_calls_leave_the_page_cache_alone(serve: Callable[..., str], engine: Engine) -> None:
    """Tools only read: their POSTs must not empty the cache of pages for visitors (web/pagecache.py)."""
    base_url = serve(page_cache_seconds=600)
    with httpx.Client(base_url=base_url) as http:
        assert "Lighthouse keepers" not in http.get("/").text
        # Another process adds a paper to the day the home page shows: this one keeps its kept page.
        add_papers(engine, [paper("2608.99990", "Lighthouse keepers of the latent space", day=SAMPLE_DAY)])

        async def run() -> None:
            async with Client(f"{base_url}/mcp", read_timeout_seconds=60) as client:
                assert not (await client.call_tool("trending", {})).is_error

        anyio.run(run)
        assert "Lighthouse keepers" not in http.get("/").text
        # Any other POST through this process still empties it (here a refused one: no CSRF token).
        http.post("/logout")
        assert "Lighthouse keepers" in http.get("/").text
