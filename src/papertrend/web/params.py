"""Query parameters shared by pages, API and feeds: categories, search filters, the query text (#11)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from papertrend.errors import BadRequest
from papertrend.papers.listings import parse_day
from papertrend.search.types import Filters

_CATEGORY = re.compile(r"[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")
MAX_QUERY_CHARS = 500


def parse_categories(values: Sequence[str] | None) -> tuple[str, ...]:
    """arXiv categories from `category=` values, each possibly a comma- or space-separated list."""
    out: list[str] = []
    for value in values or ():
        for part in re.split(r"[\s,]+", value.strip()):
            if not part:
                continue
            if not _CATEGORY.fullmatch(part) or len(part) > 32:
                raise BadRequest(f"category={part!r} is not an arXiv category (e.g. cs.CL, hep-th)")
            if part not in out:
                out.append(part)
    return tuple(out)


def parse_filters(*, since: str | None, until: str | None, categories: Sequence[str] | None) -> Filters:
    """Search filters from query parameters; BadRequest for a malformed value."""
    start = parse_day(since, name="since") if since else None
    end = parse_day(until, name="until") if until else None
    if start and end and start > end:
        raise BadRequest(f"since={start} is after until={end}")
    return Filters(since=start, until=end, categories=parse_categories(categories))


def clean_query(q: str | None) -> str:
    """The user's query, trimmed; very long input is cut rather than refused."""
    return " ".join((q or "").split())[:MAX_QUERY_CHARS]
