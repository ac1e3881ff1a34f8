"""Any text in any argument of any MCP tool is an answer or a tool error that says why, never an
unexpected failure (issue #16), on both databases; the SDK's client talks to the server in-process.

test_mcp_stdio.py lists the hostile calls one by one; this one lets hypothesis pick the values: a
NUL in `author` reached PostgreSQL's text and failed the call with no reason given.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import hypothesis
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp import Client
from mcp.server.mcpserver import MCPServer
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.mcp.cli import library_for
from papertrend.mcp.server import build_server
from papertrend.search.embedder import FAST_MODEL
from papertrend.web.search_holder import SearchHolder
from tests.integration.mcp_support import embedded_store, text_of

# The SDK's own message for an exception no tool expected (mcp/server/mcpserver/tools/base.py).
UNEXPECTED = "Error executing tool {}"
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        ["\x00", "ab\x00c", "x" * 199, "<b>x</b>", "'; --", "\u202e", "2401.00001v99", "-1", "a\ud800b"]
    ),
)
CALLS = (
    ("search_papers", "query", {"mode": "keyword"}),
    ("search_papers", "query", {}),
    ("search_papers", "author", {"query": "agents"}),
    ("search_papers", "since", {"query": "agents"}),
    ("get_paper", "paper_id", {}),
    ("similar_papers", "paper_id", {}),
    ("daily_papers", "date", {}),
    ("daily_papers", "week", {}),
    ("daily_papers", "month", {}),
    ("trending", "window", {}),
    ("author_papers", "author", {}),
)


@pytest.fixture
def server(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> MCPServer:
    embedded_store(engine, fixture_data, tmp_path / "data")
    tuned = settings.model_copy(update={"embedding_model": FAST_MODEL})
    search = SearchHolder(settings=tuned, engine=engine)
    return build_server(library_for(settings=tuned, search=search))


@hypothesis.settings(max_examples=25, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@given(value=TEXT)
def test_any_argument_of_any_tool_is_an_answer_or_a_clear_error(server: MCPServer, value: str) -> None:
    async def run() -> None:
        async with Client(server, read_timeout_seconds=60) as client:
            for tool, argument, others in CALLS:
                result = await client.call_tool(tool, {**others, argument: value})
                answer = text_of(result)
                assert answer.strip(), (tool, argument, value)
                if result.is_error:
                    assert answer != UNEXPECTED.format(tool), (tool, argument, value)

    anyio.run(run)
