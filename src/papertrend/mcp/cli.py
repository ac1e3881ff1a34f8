"""`papertrend mcp`: the paper tools for an MCP client, over this process's stdin and stdout (issue #16)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from papertrend.commands import open_ctx
from papertrend.config import Settings
from papertrend.rank import TrendParams
from papertrend.types import Filters

if TYPE_CHECKING:
    from papertrend.mcp.tools import Library
    from papertrend.web.search_holder import SearchHolder

log = logging.getLogger("papertrend.mcp")


def library_for(*, settings: Settings, search: SearchHolder) -> Library:
    """The tools' view of a store: the searcher given, trending as the settings tune it."""
    from papertrend.mcp.tools import Library

    return Library(
        engine=search.engine,
        search=search,
        base_url=settings.base_url,
        trend=TrendParams(gravity=settings.trending_gravity, offset_hours=settings.trending_offset_hours),
    )


def _warm(search: SearchHolder) -> None:
    # The model loads on the first search (about a second); doing it while the client connects
    # keeps that second out of the first tool call.
    try:
        search.search(query="warm up", mode="hybrid", limit=1, filters=Filters(), sort="relevance")
    except Exception as exc:  # a store that cannot search yet still serves the other tools
        log.warning("mcp.warm_up_failed", extra={"error": str(exc)})


def mcp_command() -> None:
    """Serve the paper tools to an MCP client over stdin/stdout; configure it to run this command."""
    # Imported here: the SDK and the web app's search holder are not needed by other commands.
    from papertrend.logs import configure_logging
    from papertrend.mcp.server import build_server
    from papertrend.web.search_holder import SearchHolder

    ctx = open_ctx()
    # stdout carries the protocol: every log line goes to stderr, and only warnings.
    configure_logging(ctx.settings, level=logging.WARNING)
    search = SearchHolder(settings=ctx.settings, engine=ctx.engine)
    threading.Thread(target=_warm, args=(search,), name="mcp-warm-up", daemon=True).start()
    try:
        build_server(library_for(settings=ctx.settings, search=search)).run("stdio")
    finally:
        ctx.engine.dispose()
