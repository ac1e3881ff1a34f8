"""The MCP server: six read-only paper tools over one `Library` (issue #16).

Built with the official SDK's `MCPServer`; each tool's schema comes from its annotated signature and
its description is the one line a model reads to choose it. The SDK validates arguments against the
schema (wrong types, out-of-range limits, 10 kB strings) and answers a tool error for them, as for a
`ToolError` from the tool; anything unexpected is a tool error too, logged, and the server keeps serving.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations
from pydantic import Field

from papertrend import __version__
from papertrend.mcp.tools import Library
from papertrend.papers.listings import TrendSort, Window
from papertrend.types import Mode, Sort

# Long enough for a pasted abstract, short enough that a runaway argument is refused, not ranked.
MAX_QUERY_CHARS = 2000
MAX_ID_CHARS = 200

Query = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_QUERY_CHARS,
        description="What the papers are about, in plain words; one arXiv id or paper link finds that "
        "paper alone.",
    ),
]
PaperId = Annotated[
    str,
    Field(
        min_length=1,
        max_length=MAX_ID_CHARS,
        description="An arXiv id in any spelling: 2401.01234, 2401.01234v2, arXiv:2401.01234, "
        "hep-th/9901001, an arxiv.org/abs or /pdf URL, a huggingface.co/papers or alphaxiv.org URL, "
        "or arXiv's DOI.",
    ),
]
Limit = Annotated[int, Field(ge=1, le=50, description="How many papers to return (1–50).")]
CATEGORY = r"^[A-Za-z][A-Za-z-]*(\.[A-Za-z][A-Za-z-]*)?$"
Category = Annotated[str, Field(pattern=CATEGORY, max_length=32, description="e.g. cs.CL")]
Categories = Annotated[
    list[Category], Field(max_length=10, description="arXiv categories; any of them matches.")
]
Author = Annotated[str, Field(min_length=2, max_length=200, description="An author's name or surname.")]

INSTRUCTIONS = (
    "Papertrend: research papers from arXiv and Hugging Face's daily papers, stored on this server. "
    "Use search_papers to find papers on a topic, get_paper to read one, similar_papers for related work, "
    "daily_papers and trending for what is new, author_papers for one person's work. Ids are arXiv ids."
)
READ_ONLY = ToolAnnotations(read_only_hint=True, idempotent_hint=True, open_world_hint=False)


def build_server(library: Library) -> MCPServer:
    """An MCP server whose tools answer from `library`."""
    server: MCPServer = MCPServer(
        name="papertrend",
        title="Papertrend",
        version=__version__,
        instructions=INSTRUCTIONS,
        log_level="WARNING",
    )

    @server.tool(
        description="Search stored papers by meaning and words; filter by listing dates, arXiv "
        "categories or an author; returns ids, titles, dates, abstract starts and links.",
        annotations=READ_ONLY,
    )
    def search_papers(
        query: Query,
        mode: Annotated[
            Mode, Field(description="hybrid (default: words and meaning), keyword, or semantic.")
        ] = "hybrid",
        since: Annotated[date | None, Field(description="Listed on or after this day, YYYY-MM-DD.")] = None,
        until: Annotated[date | None, Field(description="Listed on or before this day, YYYY-MM-DD.")] = None,
        categories: Categories = [],  # noqa: B006 — the SDK copies defaults into the schema; it never mutates them
        author: Annotated[
            str | None,
            Field(max_length=200, description="Only papers with an author whose name contains this."),
        ] = None,
        sort: Annotated[Sort, Field(description="relevance (default) or date (newest first).")] = "relevance",
        limit: Limit = 10,
    ) -> str:
        return library.search_papers(
            query=query,
            mode=mode,
            since=since,
            until=until,
            categories=categories,
            author=author,
            sort=sort,
            limit=limit,
        )

    @server.tool(
        description="Read one paper as markdown: title, authors, dates, links, full abstract, "
        "machine summary and keywords when imported, and similar papers.",
        annotations=READ_ONLY,
    )
    def get_paper(paper_id: PaperId) -> str:
        return library.get_paper(paper_id=paper_id)

    @server.tool(
        description="Papers nearest in meaning to one stored paper (related work).", annotations=READ_ONLY
    )
    def similar_papers(paper_id: PaperId, limit: Limit = 10) -> str:
        return library.similar_papers(paper_id=paper_id, limit=limit)

    @server.tool(
        description="The papers listed on one day, ISO week or month (give at most one; default: the "
        "latest day with papers), ranked by trending score, upvotes or newest.",
        annotations=READ_ONLY,
    )
    def daily_papers(
        date: Annotated[str | None, Field(max_length=20, description="A day, YYYY-MM-DD.")] = None,
        week: Annotated[str | None, Field(max_length=20, description="An ISO week, YYYY-Www.")] = None,
        month: Annotated[str | None, Field(max_length=20, description="A month, YYYY-MM.")] = None,
        sort: Annotated[TrendSort, Field(description="trending (default), upvotes or newest.")] = "trending",
        limit: Annotated[int, Field(ge=1, le=100, description="How many papers to return (1–100).")] = 20,
        categories: Categories = [],  # noqa: B006
    ) -> str:
        return library.daily_papers(
            day=date, week=week, month=month, sort=sort, limit=limit, categories=categories
        )

    @server.tool(
        description="What is trending now: papers of the last day, 7 days or 30 days with papers, "
        "ranked by votes against age.",
        annotations=READ_ONLY,
    )
    def trending(
        window: Annotated[Window, Field(description="day (default), week or month.")] = "day",
        sort: Annotated[TrendSort, Field(description="trending (default), upvotes or newest.")] = "trending",
        limit: Limit = 10,
        categories: Categories = [],  # noqa: B006
    ) -> str:
        return library.trending(window=window, sort=sort, limit=limit, categories=categories)

    @server.tool(description="An author's stored papers, newest first.", annotations=READ_ONLY)
    def author_papers(author: Author, limit: Limit = 10) -> str:
        return library.author_papers(author=author, limit=limit)

    return server
