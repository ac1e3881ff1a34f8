"""What each MCP tool does, over the existing services, answering compact text for a model (issue #16).

`Library` holds what the tools read from (the engine, a searcher, the trending parameters, a clock);
its methods take already-validated arguments (the schemas in mcp/server.py check types and ranges)
and raise `ToolError` with a message a model can act on for anything else that is wrong.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Protocol

from mcp.server.mcpserver.exceptions import ToolError
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading
from papertrend.errors import AppError
from papertrend.papers import listings, repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.listings import TrendSort, Window, period_of
from papertrend.papers.markdown import SIMILAR_PAPERS, paper_markdown
from papertrend.papers.models import Paper, authors_short, has_control_chars
from papertrend.rank import TrendParams
from papertrend.search import filters as search_filters
from papertrend.types import Filters, Hit, Mode, Sort

# A model reads every character it is given: the first few lines of an abstract tell it enough to
# decide whether to call get_paper for the rest.
ABSTRACT_CHARS = 280


class Searching(Protocol):
    """What the tools need from search: the web app's SearchHolder has this shape."""

    def search(
        self, *, query: str, mode: Mode, limit: int, filters: Filters, sort: Sort
    ) -> tuple[list[Hit], Mode]: ...

    def similar(self, *, paper_id: str, limit: int) -> list[Hit]: ...


def first_lines(text: str, chars: int = ABSTRACT_CHARS) -> str:
    """The first `chars` characters of a text on one line, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0].rstrip(",.;:") + " …"


def paper_lines(rank: int, p: Paper, *, base_url: str) -> list[str]:
    """One paper as a numbered entry: id, day, title; authors and signals; abstract start; links."""
    day = p.listing_day.isoformat() if p.listing_day else "undated"
    facts = [authors_short(p.authors) or "unknown authors"]
    if p.categories:
        facts.append(", ".join(p.categories[:3]))
    facts.append(f"{p.votes} upvotes")
    if p.code_url:
        facts.append("code available")
    return [
        f"{rank}. {p.id} · {day} · {' '.join(p.title.split())}",
        f"   {' · '.join(facts)}",
        f"   {first_lines(p.abstract) or '(no abstract)'}",
        f"   {base_url.rstrip('/')}/papers/{p.id} · {p.abs_url}",
    ]


def paper_list(heading: str, found: Sequence[Paper], *, base_url: str, empty: str) -> str:
    """A heading and the papers as numbered entries; `empty` says what to try when there are none."""
    if not found:
        return f"{heading}: no papers. {empty}"
    lines = [f"{heading}: {len(found)} paper{'s' if len(found) != 1 else ''}."]
    for rank, p in enumerate(found, start=1):
        lines += paper_lines(rank, p, base_url=base_url)
    lines.append("Call get_paper with an id for the full abstract, summary and links.")
    return "\n".join(lines)


def _key(paper_id: str) -> str:
    try:
        return parse_arxiv_id(paper_id).key
    except AppError as exc:
        raise ToolError(exc.message) from None


def _author(text: str) -> str:
    """An author name as the tools take it, whitespace-normalised; control characters are refused."""
    if has_control_chars(text):
        # As `author=` on the site: a NUL reached PostgreSQL's text and failed the call there.
        raise ToolError("author may not hold control characters")
    return " ".join(text.split())


@dataclass
class Library:
    """The store the tools answer from."""

    engine: Engine
    search: Searching
    base_url: str
    trend: TrendParams
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def _papers(self, hits: Sequence[Hit]) -> list[Paper]:
        with reading(self.engine) as conn:
            return repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])

    def search_papers(
        self,
        *,
        query: str,
        mode: Mode,
        since: date | None,
        until: date | None,
        categories: Sequence[str],
        author: str | None,
        sort: Sort,
        limit: int,
    ) -> str:
        """Papers matching a query in words and meaning, with filters."""
        text = " ".join(query.split())
        if not text:
            raise ToolError("query is empty: say in a few words what the papers are about")
        if since and until and since > until:
            raise ToolError(f"since={since} is after until={until}")
        author_name = _author(author or "")
        filters = Filters(
            since=since,
            until=until,
            categories=tuple(dict.fromkeys(categories)),
            authors=(author_name,) if author_name else (),
        )
        with reading(self.engine) as conn:
            _known(conn, filters)
        try:
            hits, used = self.search.search(query=text, mode=mode, limit=limit, filters=filters, sort=sort)
        except AppError as exc:
            raise ToolError(exc.message) from None
        note = "" if used == mode else f" (the embedding model is unavailable, so {used} search answered)"
        return paper_list(
            f'{used.capitalize()} search for "{first_lines(text, 80)}"{note}',
            self._papers(hits),
            base_url=self.base_url,
            empty="Try other words, fewer filters, or mode=semantic.",
        )

    def get_paper(self, *, paper_id: str) -> str:
        """One paper as markdown, with similar papers."""
        key = _key(paper_id)
        with reading(self.engine) as conn:
            paper = repository.get(conn=conn, paper_id=key)
            if paper is None:
                raise ToolError(
                    f"no paper {key} is stored here; find papers with search_papers "
                    f"(it may be on arXiv at https://arxiv.org/abs/{key})"
                )
            embedded = listings.has_vector(conn=conn, paper_pk=paper.pk)
        similar = self._papers(self.search.similar(paper_id=key, limit=SIMILAR_PAPERS)) if embedded else []
        return paper_markdown(paper, similar=similar, base_url=self.base_url)

    def similar_papers(self, *, paper_id: str, limit: int) -> str:
        """The papers nearest in meaning to one paper."""
        key = _key(paper_id)
        with reading(self.engine) as conn:
            paper = repository.get(conn=conn, paper_id=key)
            if paper is None:
                raise ToolError(f"no paper {key} is stored here; find papers with search_papers")
            embedded = listings.has_vector(conn=conn, paper_pk=paper.pk)
        if not embedded:
            return f"Papers similar to {key}: none yet; the paper has not been embedded (`papertrend embed`)."
        return paper_list(
            f"Papers similar to {key} ({' '.join(paper.title.split())})",
            self._papers(self.search.similar(paper_id=key, limit=limit)),
            base_url=self.base_url,
            empty="The embedding model may be unavailable on this server.",
        )

    def daily_papers(
        self,
        *,
        day: str | None,
        week: str | None,
        month: str | None,
        sort: TrendSort,
        limit: int,
        categories: Sequence[str] = (),
    ) -> str:
        """The papers of a day, ISO week or month (default: the latest day with papers), in any of the
        categories given."""
        with reading(self.engine) as conn:
            try:
                period = listings.parse_period(day=day, week=week, month=month)
            except AppError as exc:
                raise ToolError(exc.message) from None
            cats = _known_categories(conn, categories)
            if period is None:
                latest = repository.latest_day(conn=conn, categories=cats)
                if latest is None:
                    return "No papers are stored yet."
                period = period_of("day", latest)
            hits = listings.ranked_period(
                conn=conn, period=period, sort=sort, now=self.clock(), params=self.trend, categories=cats
            )
        kind, value = period.param
        return paper_list(
            f"Papers of {kind} {value}{_in(cats)}, by {sort}",
            self._papers(hits[:limit]),
            base_url=self.base_url,
            empty="Try another date, or omit it for the latest day.",
        )

    def trending(self, *, window: Window, sort: TrendSort, limit: int, categories: Sequence[str] = ()) -> str:
        """The trending papers of the last day, 7 days or 30 days that have papers, in any of the
        categories given."""
        with reading(self.engine) as conn:
            cats = _known_categories(conn, categories)
            period, hits = listings.ranked_window(
                conn=conn, window=window, sort=sort, now=self.clock(), params=self.trend, categories=cats
            )
        if period is None:
            return "No papers are stored yet."
        return paper_list(
            f"Trending papers{_in(cats)}, {period.start} to {period.end}, by {sort}",
            self._papers(hits[:limit]),
            base_url=self.base_url,
            empty="Try a longer window.",
        )

    def author_papers(self, *, author: str, limit: int) -> str:
        """An author's papers, newest first."""
        name = _author(author)
        if len(name) < 2:
            raise ToolError("author is empty: give a name, e.g. 'Yann LeCun' or a surname")
        # Authors are indexed for keyword search; the filter keeps only papers one of whose author
        # names contains the text, so a surname that is also a common word finds only the author.
        hits, _ = self.search.search(
            query=name, mode="keyword", limit=limit, filters=Filters(authors=(name,)), sort="date"
        )
        return paper_list(
            f'Papers by "{first_lines(name, 80)}", newest first',
            self._papers(hits),
            base_url=self.base_url,
            empty="Names match as written on arXiv; try the surname alone.",
        )


def _known(conn: Connection, filters: Filters) -> Filters:
    # A category or author no stored paper has is a tool error naming it, as a 400 is in the API (#14).
    notes = search_filters.unknown_notes(search_filters.unknown(conn=conn, filters=filters))
    if notes:
        raise ToolError("; ".join(notes))
    return filters


def _known_categories(conn: Connection, categories: Sequence[str]) -> tuple[str, ...]:
    return _known(conn, Filters(categories=tuple(dict.fromkeys(categories)))).categories


def _in(categories: Sequence[str]) -> str:
    return f" in {', '.join(categories)}" if categories else ""
