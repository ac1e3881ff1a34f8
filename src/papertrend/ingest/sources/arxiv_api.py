"""`arxiv-api`: the export API's Atom feed (https://export.arxiv.org/api/query), paged (issue #2).

Used for searches and id lookups; bulk and daily harvesting go through `arxiv-oai`. arXiv asks for at
least 3 s between calls: the PoliteClient the caller passes in enforces that (its `min_interval`), and
every request here goes through it.

Two response styles are read alike: 2016 (namespace declared on each arxiv: element, http links) and
2026 (namespaces on <feed>, https links, `https://arxiv.org/api/...` feed ids).

"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass

from papertrend.errors import SourceError
from papertrend.ingest.base import (
    Cursor,
    Parsed,
    RawBatch,
    check_id,
    iso_datetime,
    register_source,
    text_or_none,
)
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources._xml import child, child_text, children, parse_xml
from papertrend.numbers import whole_number
from papertrend.papers.categories import arxiv_categories
from papertrend.papers.models import PaperIn, Rejected

NAME = "arxiv-api"
# arXiv answers a bad query with HTTP 400 and an Atom feed whose one entry describes the error.
_ERROR_ID_MARK = "/api/errors"


def first_doi(value: str) -> str | None:
    """The paper's own DOI from a field that may list several (errata follow, space/comma/;-separated)."""
    tokens = value.replace(",", " ").replace(";", " ").split()
    return tokens[0] if tokens else None


def https(url: str | None) -> str | None:
    """Upgrade arXiv's old http:// links: arxiv.org redirects them anyway, and pages must not downgrade."""
    if url and url.startswith("http://") and "arxiv.org/" in url:
        return "https://" + url[len("http://") :]
    return url


# --- the source -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Page:
    total: int | None
    entries: int
    error: str | None


def _error_message(feed: ET.Element) -> str | None:
    """arXiv's message when the feed is an error report (an entry whose id is …/api/errors#…)."""
    for entry in children(feed, "entry"):
        if _ERROR_ID_MARK in child_text(entry, "id"):
            return child_text(entry, "summary") or child_text(entry, "id")
    return None


def _inspect(feed: ET.Element) -> _Page:
    total_text = child_text(feed, "totalResults")
    total = whole_number(total_text)
    return _Page(total=total, entries=len(children(feed, "entry")), error=_error_message(feed))


def _http_error(body: bytes, origin: str, status: str) -> str:
    """The message for an HTTP error: arXiv's own words when the body is its error feed."""
    try:
        message = _error_message(parse_xml(body, origin=origin, root="feed"))
    except SourceError:
        message = None
    return f"{origin}: arXiv API error: {message}" if message else f"{origin}: HTTP {status}"


@register_source(NAME)
class ArxivApiSource:
    """Pages through one search (`query`) or id lookup (`id_list`) with start/max_results.

    The cursor `{"start": n}` is saved with each page, so a run cut short resumes at the next page.
    A finished run forgets it: results are sorted newest first, so the next run must start at 0 again.
    """

    name = NAME
    forget_cursor_when_done = True

    def __init__(
        self,
        *,
        client: PoliteClient,
        base_url: str,
        query: str | None = None,
        id_list: list[str] | None = None,
        page_size: int = 100,
        max_results: int | None = None,
        sort_by: str = "submittedDate",
        sort_order: str = "descending",
    ) -> None:
        if not query and not id_list:
            raise ValueError("arxiv-api needs a query or an id_list")
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        self.client = client
        self.base_url = base_url
        self.query = query
        self.id_list = list(id_list or [])
        self.page_size = page_size
        self.max_results = max_results
        self.sort_by = sort_by
        self.sort_order = sort_order

    def cursor_key(self) -> str:
        return f"query={self.query or ''}&id_list={','.join(self.id_list)}"

    def _params(self, start: int, count: int) -> dict[str, str | int]:
        return {
            "search_query": self.query or "",
            "id_list": ",".join(self.id_list),
            "start": start,
            "max_results": count,
            "sortBy": self.sort_by,
            "sortOrder": self.sort_order,
        }

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        start = int(cursor.get("start", 0)) if cursor else 0
        while self.max_results is None or start < self.max_results:
            count = (
                self.page_size if self.max_results is None else min(self.page_size, self.max_results - start)
            )
            # ok_statuses: arXiv explains a bad query in the body of its 400, which we want to show.
            resp = self.client.get(
                self.base_url, params=self._params(start, count), ok_statuses=frozenset({400})
            )
            origin = str(resp.request.url)
            if resp.status_code >= 400:
                raise SourceError(
                    _http_error(resp.content, origin, f"{resp.status_code} {resp.reason_phrase}")
                )
            page = _inspect(parse_xml(resp.content, origin=origin, root="feed"))
            if page.error:
                raise SourceError(f"{origin}: arXiv API error: {page.error}")
            if page.entries == 0:
                # Past the end, or one of the API's transient empty pages: either way, stop here.
                return
            # Advance by what came back, not by what was asked: the API sometimes returns a short page,
            # and counting the request would skip the missing entries.
            start += page.entries
            yield RawBatch(resp.content, origin, {"start": start})
            if page.total is not None and start >= page.total:
                return

    def parse(self, raw: RawBatch) -> Parsed:
        feed = parse_xml(raw.payload, origin=raw.origin, root="feed")
        error = _error_message(feed)
        if error:
            raise SourceError(f"{raw.origin}: arXiv API error: {error}")
        parsed = Parsed()
        for number, entry in enumerate(children(feed, "entry"), 1):
            paper = entry_to_paper(entry, where=f"{raw.origin} entry {number}", parsed=parsed)
            if paper is not None:
                parsed.papers.append(paper)
        return parsed


def entry_to_paper(entry: ET.Element, *, where: str, parsed: Parsed) -> PaperIn | None:
    """One Atom <entry> → PaperIn, or a rejection noted in `parsed`."""
    raw_id = child_text(entry, "id")
    arxiv_id = check_id(raw_id, source=NAME, record=raw_id or where, parsed=parsed)
    if arxiv_id is None:
        return None
    title = child_text(entry, "title")
    if not title:
        parsed.rejected.append(Rejected(NAME, raw_id, f"{arxiv_id.key}: missing title"))
        return None
    primary = child(entry, "primary_category")
    categories = [primary.get("term", "")] if primary is not None else []
    categories += [c.get("term", "") for c in children(entry, "category")]
    pdf = next(
        (
            link.get("href")
            for link in children(entry, "link")
            if link.get("title") == "pdf" or link.get("type") == "application/pdf"
        ),
        None,
    )
    return PaperIn(
        id=arxiv_id.key,
        version=arxiv_id.version,
        title=title,
        source=NAME,
        abstract=child_text(entry, "summary"),
        authors=[name for a in children(entry, "author") if (name := child_text(a, "name"))],
        categories=arxiv_categories(categories),  # primary first, no repeats, no ACM or MSC classes
        comment=text_or_none(child_text(entry, "comment")),
        journal_ref=text_or_none(child_text(entry, "journal_ref")),
        doi=first_doi(child_text(entry, "doi")),
        published_at=iso_datetime(child_text(entry, "published")),
        updated_at=iso_datetime(child_text(entry, "updated")),
        pdf_url=https(pdf) or f"https://arxiv.org/pdf/{arxiv_id.key}",
    )
