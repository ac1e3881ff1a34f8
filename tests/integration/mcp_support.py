"""Helpers for the MCP tests (issue #16): a store to serve, and one call's text."""

from __future__ import annotations

import os
from pathlib import Path

from mcp.types import CallToolResult, TextContent
from sqlalchemy.engine import Engine

from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.integration.web_support import load_papers


def embedded_store(engine: Engine, fixture_data: Path, folder: Path) -> None:
    """The web tests' papers (the real HF sample day, real arXiv days, a hostile and an old paper),
    embedded with the fast model so that search by meaning and similar papers answer."""
    load_papers(engine, fixture_data, folder)
    report = embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    assert report.embedded > 0 and report.remaining == 0, report


def text_of(result: CallToolResult) -> str:
    """The one text block a Papertrend tool answers."""
    assert len(result.content) == 1 and isinstance(result.content[0], TextContent), result
    return result.content[0].text


def server_processes(marker: str) -> list[int]:
    """Pids of live processes whose command line or environment names `marker` (a test's own path)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes() + (entry / "cmdline").read_bytes():
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                if state != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


FAST_MODEL_ENV = {"PAPERTREND_EMBEDDING_MODEL": FAST_MODEL}
