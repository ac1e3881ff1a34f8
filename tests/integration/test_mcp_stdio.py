"""`papertrend mcp` over stdio, driven by the SDK's own client in a real subprocess (issue #16)."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.integration.mcp_support import FAST_MODEL_ENV, embedded_store, server_processes, text_of
from tests.integration.web_support import HOSTILE_ID, OLD_ID, TOP_ID

TOOLS = {"search_papers", "get_paper", "similar_papers", "daily_papers", "trending", "author_papers"}


@pytest.fixture
def store(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Path:
    embedded_store(engine, fixture_data, tmp_path / "data")
    return tmp_path


def over_stdio(tmp_path: Path, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Start `papertrend mcp` on the test's store, run `scenario` with a connected client, and check
    that the server process is gone afterwards."""
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "papertrend", "mcp"],
        # The settings fixture exported the test's PAPERTREND_* variables; the fast model searches.
        env={**os.environ, **FAST_MODEL_ENV},
        cwd=str(tmp_path),
    )

    async def run() -> None:
        async with Client(params, read_timeout_seconds=60) as client:
            await scenario(client)

    try:
        anyio.run(run)
    finally:
        assert server_processes(str(tmp_path)) == [], "the MCP server outlived its client"


def test_tools_are_listed_with_schemas_and_descriptions(store: Path) -> None:
    async def scenario(client: Client) -> None:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert set(tools) == TOOLS
        for tool in tools.values():
            assert tool.description and "\n" not in tool.description.strip(), tool.name
            assert tool.input_schema["type"] == "object"
            assert tool.annotations is not None and tool.annotations.read_only_hint
        search = tools["search_papers"].input_schema
        assert search["required"] == ["query"]
        assert (
            search["properties"]["limit"]["maximum"] == 50 and search["properties"]["limit"]["minimum"] == 1
        )
        assert set(search["properties"]) >= {"query", "mode", "since", "until", "categories", "author"}

    over_stdio(store, scenario)


def test_each_tool_answers_from_the_store(store: Path) -> None:
    async def scenario(client: Client) -> None:
        found = await client.call_tool(
            "search_papers", {"query": "can coding agents reproduce scientific software", "limit": 5}
        )
        text = text_of(found)
        assert not found.is_error, text
        assert text.startswith(
            'Hybrid search for "can coding agents reproduce scientific software": 5 papers.'
        )
        assert "\n1. 2608.19799 · 2026-08-21 · " in text
        assert "https://arxiv.org/abs/2608.19799" in text

        # Filters: the arXiv papers (listed in March 2025) have categories, the HF day's do not.
        for arguments, check in (
            ({"since": "2026-08-01"}, lambda day, cats: day >= "2026-08-01"),
            (
                {"until": "2025-12-31", "categories": ["cs.CL"]},
                lambda day, cats: day < "2026" and "cs.CL" in cats,
            ),
        ):
            filtered = text_of(
                await client.call_tool(
                    "search_papers", {"query": "language models", "limit": 20, **arguments}
                )
            )
            lines = filtered.splitlines()
            entries = [
                (lines[i].split(" · ")[1], lines[i + 1]) for i in range(len(lines)) if lines[i][:1].isdigit()
            ]
            assert entries and all(check(day, facts) for day, facts in entries), filtered

        # Any spelling of an id: the same markdown as /papers/{id}.md.
        for spelling in (TOP_ID, f"{TOP_ID}v1", f"https://arxiv.org/abs/{TOP_ID}v2", f"arXiv:{TOP_ID}"):
            paper = await client.call_tool("get_paper", {"paper_id": spelling})
            assert not paper.is_error, text_of(paper)
            md = text_of(paper)
            assert md.startswith("# EnvHarness: Awakening Static Worlds for Agent Learning\n"), spelling
            assert "## Summary (machine-written, from Hugging Face)" in md and "## Similar papers" in md

        similar = text_of(await client.call_tool("similar_papers", {"paper_id": TOP_ID, "limit": 3}))
        assert similar.startswith(f"Papers similar to {TOP_ID} (EnvHarness") and "\n3. " in similar
        assert f"\n1. {TOP_ID} " not in similar

        daily = text_of(
            await client.call_tool("daily_papers", {"date": "2026-08-21", "sort": "upvotes", "limit": 3})
        )
        assert daily.startswith("Papers of date 2026-08-21, by upvotes: 3 papers.")
        assert f"\n1. {TOP_ID} · 2026-08-21 · EnvHarness" in daily and "163 upvotes" in daily

        month = text_of(await client.call_tool("trending", {"window": "month", "sort": "upvotes"}))
        assert f"\n1. {OLD_ID} " in month  # 300 upvotes, four days before the sample day

        # Categories filter the listings and trending too, as they do on the site (#14).
        everything = text_of(await client.call_tool("daily_papers", {"date": "2025-03-18", "limit": 100}))
        some = text_of(
            await client.call_tool(
                "daily_papers", {"date": "2025-03-18", "limit": 100, "categories": ["cs.CL"]}
            )
        )
        assert some.startswith("Papers of date 2025-03-18 in cs.CL, by trending:")
        listed = [len(re.findall(r"^\d+\. ", text, re.M)) for text in (some, everything)]
        assert 0 < listed[0] < listed[1], listed
        # Without a date, a category's own latest day, not the store's (which has no cs.CL paper).
        latest_cl = text_of(await client.call_tool("daily_papers", {"categories": ["cs.CL"]}))
        assert latest_cl.startswith("Papers of date 2025-03-18 in cs.CL, by trending: 1 paper.\n1. ")
        in_cv = text_of(await client.call_tool("trending", {"window": "month", "categories": ["cs.CV"]}))
        assert in_cv.startswith("Trending papers in cs.CV, ")

        by_author = text_of(await client.call_tool("author_papers", {"author": "Chengsong Huang"}))
        assert f"\n1. {TOP_ID} " in by_author

    over_stdio(store, scenario)


HOSTILE_CALLS: list[tuple[str, dict[str, object], str]] = [
    ("get_paper", {"paper_id": "2101.00001"}, "no paper 2101.00001 is stored here"),
    ("get_paper", {"paper_id": "not an id"}, "not an arXiv id"),
    ("get_paper", {"paper_id": 2608.19880}, "paper_id"),
    ("get_paper", {}, "paper_id"),
    ("similar_papers", {"paper_id": "x" * 10_000}, "at most 200 characters"),
    ("search_papers", {"query": "y" * 10_000}, "at most 2000 characters"),
    ("search_papers", {"query": "agents", "limit": -1}, "greater than or equal to 1"),
    ("search_papers", {"query": "agents", "limit": "ten"}, "limit"),
    ("search_papers", {"query": "agents", "mode": "psychic"}, "mode"),
    ("search_papers", {"query": "agents", "since": "yesterday"}, "since"),
    ("search_papers", {"query": "agents", "since": "2026-09-01", "until": "2026-08-01"}, "is after"),
    ("search_papers", {"query": "agents", "categories": ["cs.CL'; DROP TABLE papers; --"]}, "categories"),
    ("search_papers", {"query": "   "}, "query is empty"),
    ("search_papers", {"query": ["a", "list"]}, "query"),
    ("daily_papers", {"date": "2026-02-30"}, "is not a date"),
    ("daily_papers", {"week": "2026-W60"}, "is not an ISO week"),
    ("daily_papers", {"date": "2026-08-21", "month": "2026-08"}, "only one of date, week or month"),
    ("trending", {"window": "decade"}, "window"),
    ("trending", {"categories": ["cs.ZZ"]}, "no paper here is in category 'cs.ZZ'"),
    ("search_papers", {"query": "agents", "categories": ["cs.ZZ"]}, "no paper here is in category 'cs.ZZ'"),
    (
        "search_papers",
        {"query": "agents", "author": "Nobody Zzyzx"},
        "no paper here has an author named like",
    ),
    ("daily_papers", {"categories": ["cs.ZZ", "cs.CL"]}, "no paper here is in category 'cs.ZZ'"),
    ("author_papers", {"author": "z" * 10_000}, "at most 200 characters"),
    # A NUL reached PostgreSQL's text and failed the call there, saying nothing of why.
    ("author_papers", {"author": "ab\x00c"}, "may not hold control characters"),
    ("search_papers", {"query": "agents", "author": "x\x00y"}, "may not hold control characters"),
    ("no_such_tool", {}, "no_such_tool"),
]


def test_hostile_arguments_are_tool_errors_and_the_server_keeps_serving(store: Path) -> None:
    async def scenario(client: Client) -> None:
        for name, arguments, message in HOSTILE_CALLS:
            result = await client.call_tool(name, arguments)
            assert result.is_error, (name, arguments)
            assert message in text_of(result), (name, arguments, text_of(result))
        hostile = text_of(await client.call_tool("get_paper", {"paper_id": HOSTILE_ID}))
        assert hostile.startswith(r"# \<script\>")
        # Still serving, and still right, after all of that.
        after = await client.call_tool("get_paper", {"paper_id": TOP_ID})
        assert not after.is_error and text_of(after).startswith("# EnvHarness")

    over_stdio(store, scenario)
