"""Atom feeds (RFC 4287): trending, a day's (week's, month's) papers, and any search (issue #4).

Built with ElementTree, which escapes all text; characters XML 1.0 forbids are dropped first, since a
source's control character would otherwise make the whole feed unreadable.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from papertrend import __version__
from papertrend.papers import listings, repository
from papertrend.papers.listings import Period, Window, period_of
from papertrend.papers.models import Paper
from papertrend.types import Mode, Sort
from papertrend.web.api_models import ERRORS
from papertrend.web.deps import ConnDep, StateDep
from papertrend.web.params import (
    AuthorsQ,
    CategoriesQ,
    DateQ,
    MonthQ,
    SinceQ,
    UntilQ,
    WeekQ,
    clean_query,
    known_categories,
    parse_filters,
    require_known,
)
from papertrend.web.templating import pdf_url, query_url

router = APIRouter(prefix="/feeds", tags=["feeds"], responses=ERRORS)

ATOM_NS = "http://www.w3.org/2005/Atom"
MEDIA_TYPE = "application/atom+xml; charset=utf-8"
FEED_SIZE = 30
DAILY_SIZE = 100
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

ET.register_namespace("", ATOM_NS)


def _xml_text(text: str) -> str:
    return _NOT_XML.sub("", text)


def _rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", {k: _xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _xml_text(text)
    return el


def atom(
    *,
    base_url: str,
    self_path: str,
    page_path: str,
    title: str,
    subtitle: str,
    papers: list[Paper],
    now: datetime,
) -> bytes:
    """An Atom feed of papers, in the order given."""
    base = base_url.rstrip("/")
    feed = ET.Element(f"{{{ATOM_NS}}}feed")
    _sub(feed, "id", base + self_path)
    _sub(feed, "title", title)
    _sub(feed, "subtitle", subtitle)
    # Dated by the papers themselves (#14): an ingest that rewrites rows must not make every entry new.
    updated = max((p.dated for p in papers), default=now)
    _sub(feed, "updated", _rfc3339(updated))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=base + self_path)
    _sub(feed, "link", rel="alternate", type="text/html", href=base + page_path)
    # A feed-level author makes entries valid even when a source gave a paper no authors.
    _sub(_sub(feed, "author"), "name", "Papertrend")
    _sub(feed, "generator", "Papertrend", uri=base + "/", version=__version__)
    for p in papers:
        entry = _sub(feed, "entry")
        # The arXiv abstract URL: a stable, global id for the paper whatever our base URL becomes.
        _sub(entry, "id", p.abs_url)
        _sub(entry, "title", p.title, type="text")
        _sub(entry, "updated", _rfc3339(p.dated))
        if p.published_at:
            _sub(entry, "published", _rfc3339(p.published_at))
        _sub(entry, "link", rel="alternate", type="text/html", href=f"{base}/papers/{p.id}")
        _sub(entry, "link", rel="related", type="text/html", href=p.abs_url, title="arXiv")
        _sub(entry, "link", rel="related", type="application/pdf", href=pdf_url(p), title="PDF")
        for name in p.authors:
            _sub(_sub(entry, "author"), "name", name)
        for cat in p.categories:
            _sub(entry, "category", term=cat)
        votes = f"{p.votes} upvotes. " if p.votes else ""
        _sub(entry, "summary", f"{votes}{p.abstract}", type="text")
    body: bytes = ET.tostring(feed, encoding="utf-8")
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + body


def _feed_response(body: bytes) -> Response:
    return Response(content=body, media_type=MEDIA_TYPE)


def _self_path(request: Request) -> str:
    query = request.url.query
    return f"{request.url.path}?{query}" if query else request.url.path


@router.get(
    "/trending.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}}
)
def trending_feed(
    request: Request, conn: ConnDep, state: StateDep, window: Window = "day", category: CategoriesQ = None
) -> Response:
    """Trending papers of the last day, week or month, in any of the categories given."""
    cats = known_categories(conn=conn, category=category)
    period, hits = listings.ranked_window(
        conn=conn, window=window, sort="trending", now=state.clock(), params=state.trend, categories=cats
    )
    papers = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits[:FEED_SIZE]])
    span = (
        f"{period.start} to {period.end}"
        if period and period.start != period.end
        else str(period.end if period else "")
    )
    return _feed_response(
        atom(
            base_url=state.settings.base_url,
            self_path=_self_path(request),
            page_path=query_url("/papers/trending", window=window, category=cats),
            title=f"Papertrend: trending papers ({window}{', ' + ', '.join(cats) if cats else ''})",
            subtitle=f"Papers listed {span}, ranked by trending score." if span else "No papers yet.",
            papers=papers,
            now=state.clock(),
        )
    )


@router.get(
    "/daily.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}}
)
def daily_feed(
    request: Request,
    conn: ConnDep,
    state: StateDep,
    date_: DateQ = None,
    week: WeekQ = None,
    month: MonthQ = None,
    category: CategoriesQ = None,
) -> Response:
    """Papers of a day, week or month (default: the latest day that has papers), most upvoted first,
    in any of the categories given; a category no stored paper has is a 400."""
    period: Period | None = listings.parse_period(day=date_, week=week, month=month)
    cats = known_categories(conn=conn, category=category)
    if period is None:
        latest = repository.latest_day(conn=conn, categories=cats)
        period = period_of("day", latest) if latest else None
    papers = (
        listings.papers_for_days(
            conn=conn, start=period.start, end=period.end, limit=DAILY_SIZE, categories=cats
        )
        if period
        else []
    )
    page = query_url("/papers", **dict([period.param]), category=list(cats)) if period else "/"
    return _feed_response(
        atom(
            base_url=state.settings.base_url,
            self_path=_self_path(request),
            page_path=page,
            title=f"Papertrend: papers of {period.label}" if period else "Papertrend: daily papers",
            subtitle="Most upvoted first." if period else "No papers yet.",
            papers=papers,
            now=state.clock(),
        )
    )


@router.get(
    "/search.atom", response_class=Response, responses={200: {"content": {"application/atom+xml": {}}}}
)
def search_feed(
    request: Request,
    conn: ConnDep,
    state: StateDep,
    q: Annotated[str, Query(min_length=1, max_length=4096)],
    since: SinceQ = None,
    until: UntilQ = None,
    category: CategoriesQ = None,
    author: AuthorsQ = None,
    mode: Mode = "hybrid",
    sort: Annotated[
        Sort, Query(description="date (default: newest relevant papers first) or relevance.")
    ] = "date",
) -> Response:
    """Any search, as a feed: by default its relevant papers, newest first."""
    query = clean_query(q)
    filters = parse_filters(since=since, until=until, categories=category, authors=author)
    require_known(conn=conn, filters=filters)
    hits, _used = (
        state.search.search(query=query, mode=mode, limit=FEED_SIZE, filters=filters, sort=sort)
        if query
        else ([], mode)
    )
    papers = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
    page = query_url(
        "/search",
        q=query,
        since=since,
        until=until,
        category=list(filters.categories),
        author=list(filters.authors),
        mode=mode,
        sort=sort,
    )
    return _feed_response(
        atom(
            base_url=state.settings.base_url,
            self_path=_self_path(request),
            page_path=page,
            title=f"Papertrend: search for {query}",
            subtitle="Papers matching the search, newest first."
            if sort == "date"
            else "Papers matching the search.",
            papers=papers,
            now=state.clock(),
        )
    )
