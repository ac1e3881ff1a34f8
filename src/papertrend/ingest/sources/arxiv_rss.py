"""`arxiv-rss`: the daily announcement feeds at rss.arxiv.org/rss/{category} (RSS 2.0, 2024 style).

Each item carries `arxiv:announce_type` (new, cross, replace, replace-cross), the versioned id in its
<guid> ("oai:arXiv.org:2604.12345v2"), authors as one comma-separated `dc:creator`, and a description
"arXiv:2604.12345v2 Announce Type: new \nAbstract: …". A feed is the listing of one announcement day,
so fetching it twice is harmless and no cursor is kept. On days without an announcement (weekends,
holidays) the channel has no items.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import date

from papertrend.errors import SourceError
from papertrend.ingest.base import (
    Cursor,
    Parsed,
    RawBatch,
    check_id,
    clean_text,
    register_source,
    rfc2822_datetime,
    text_or_none,
)
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources._xml import child, child_text, children, parse_xml
from papertrend.ingest.sources.arxiv_oai import split_authors
from papertrend.papers.categories import arxiv_categories
from papertrend.papers.models import PaperIn, Rejected

NAME = "arxiv-rss"
ANNOUNCE_TYPES = frozenset({"new", "cross", "replace", "replace-cross"})
# Only these announce a paper's first appearance in a listing. A replacement is announced long after
# the paper was first listed, so its day must not become the paper's listing day.
_FIRST_LISTING = frozenset({"new", "cross"})
# Cross-lists sit in a feed that is not their primary category, so that feed must not be put first.
_PRIMARY_HERE = frozenset({"new", "replace"})

_DESCRIPTION = re.compile(
    r"^\s*arXiv:(?P<id>\S+)\s+Announce Type:\s*(?P<type>\S+)\s*(?:Abstract:\s*)?(?P<abstract>.*)$",
    re.DOTALL,
)


def _rfc2822_day(value: str) -> date | None:
    # The date in the header's own zone: arXiv stamps the feed with the announcement day (ET).
    dt = rfc2822_datetime(value)
    return dt.date() if dt else None


@register_source(NAME)
class ArxivRssSource:
    """One batch per category feed; items whose announce type is not wanted are skipped."""

    name = NAME

    def __init__(
        self,
        *,
        client: PoliteClient,
        base_url: str,
        categories: list[str],
        announce_types: frozenset[str] = ANNOUNCE_TYPES,
    ) -> None:
        if not categories:
            raise ValueError("arxiv-rss needs at least one category")
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.categories = list(categories)
        self.announce_types = frozenset(announce_types)

    def cursor_key(self) -> str:
        return ",".join(self.categories)

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        for category in self.categories:
            resp = self.client.get(f"{self.base_url}/{category}")
            # The category travels with the body: parse needs it and must not guess it from a URL.
            yield RawBatch((category, resp.content), str(resp.request.url))

    def parse(self, raw: RawBatch) -> Parsed:
        category, body = raw.payload
        rss = parse_xml(body, origin=raw.origin, root="rss")
        channel = child(rss, "channel")
        if channel is None:
            raise SourceError(f"{raw.origin}: RSS without a <channel>")
        listed_on = _rfc2822_day(child_text(channel, "pubDate")) or _rfc2822_day(
            child_text(channel, "lastBuildDate")
        )
        parsed = Parsed()
        for number, item in enumerate(children(channel, "item"), 1):
            paper = self._item_to_paper(
                item,
                feed_category=category,
                listed_on=listed_on,
                where=f"{raw.origin} item {number}",
                parsed=parsed,
            )
            if paper is not None:
                parsed.papers.append(paper)
        return parsed

    def _item_to_paper(
        self, item: ET.Element, *, feed_category: str, listed_on: date | None, where: str, parsed: Parsed
    ) -> PaperIn | None:
        desc_el = child(item, "description")
        description = "".join(desc_el.itertext()) if desc_el is not None else ""
        m = _DESCRIPTION.match(description)
        # An item without a type is treated as new: that is what the feed lists by default.
        announce = child_text(item, "announce_type") or (m["type"] if m else "new")
        if announce not in self.announce_types:
            return None  # not wanted by this run: skipped, not rejected
        raw_id = child_text(item, "guid") or (m["id"] if m else "") or child_text(item, "link")
        arxiv_id = check_id(raw_id, source=NAME, record=raw_id or where, parsed=parsed)
        if arxiv_id is None:
            return None
        title = child_text(item, "title")
        if not title:
            parsed.rejected.append(Rejected(NAME, raw_id, f"{arxiv_id.key}: missing title"))
            return None
        categories = [clean_text("".join(c.itertext())) for c in children(item, "category")]
        categories = arxiv_categories(categories) or [feed_category]
        if announce in _PRIMARY_HERE and feed_category in categories:
            categories.remove(feed_category)
            categories.insert(0, feed_category)
        return PaperIn(
            id=arxiv_id.key,
            version=arxiv_id.version,
            title=title,
            source=NAME,
            abstract=clean_text(m["abstract"]) if m else clean_text(description),
            authors=split_authors(child_text(item, "creator")),
            categories=list(dict.fromkeys(categories)),
            license=text_or_none(child_text(item, "rights")),
            listed_on=listed_on if announce in _FIRST_LISTING else None,
            pdf_url=f"https://arxiv.org/pdf/{arxiv_id.key}",
        )
