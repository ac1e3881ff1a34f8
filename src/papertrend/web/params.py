"""Query parameters shared by pages, API and feeds: categories, search filters, the query text (#11)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Annotated

from fastapi import Query
from sqlalchemy.engine import Connection

from papertrend.errors import BadRequest
from papertrend.papers.listings import FIRST_DAY, LAST_DAY, parse_day
from papertrend.papers.models import CONTROL_CHARS, has_control_chars
from papertrend.search import filters as search_filters
from papertrend.types import Filters

_CATEGORY = re.compile(r"[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")
MAX_QUERY_CHARS = 500
MAX_CATEGORY_CHARS = 32
# A reader filters on a handful of arXiv's ~150 categories. Hundreds of `category=` values (or 500
# in one comma-separated value) cost 2-5 s of a worker each, 13-27 s with four at once (#12).
MAX_CATEGORIES = 20
# Room for MAX_CATEGORIES categories and their separators in one value; longer is refused unread.
MAX_CATEGORY_VALUE_CHARS = MAX_CATEGORIES * (MAX_CATEGORY_CHARS + 2)

# Patterns for the OpenAPI schema (#12, item 8), so that a client (or schemathesis) that keeps to the
# schema is never refused. Each is a subset of what the parsers accept: years 1900-2999 as the
# parsers bound them (listings.FIRST_DAY, LAST_DAY), real days of each month (Feb 29 in leap years
# other than 2000 and 2400, which the parsers accept too), ISO weeks 01-52 (53 exists in some years).
_YEAR = r"(?:19|2[0-9])[0-9]{2}"
_DAY = (
    rf"{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)"
    rf"|(?:0[13578]|1[02])-31)|(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])-02-29"
)
DAY_PATTERN = rf"^(?:{_DAY})$"
WEEK_PATTERN = rf"^{_YEAR}-W(?:0[1-9]|[1-4][0-9]|5[0-2])$"
MONTH_PATTERN = rf"^{_YEAR}-(?:0[1-9]|1[0-2])$"
CATEGORY_PATTERN = r"^[A-Za-z][A-Za-z-]{0,15}(?:\.[A-Za-z][A-Za-z-]{0,14})?$"
_RANGE = f"from {FIRST_DAY} to {LAST_DAY}"

DateQ = Annotated[
    str | None,
    Query(
        alias="date", description=f"A day, YYYY-MM-DD, {_RANGE}.", json_schema_extra={"pattern": DAY_PATTERN}
    ),
]
WeekQ = Annotated[
    str | None,
    Query(description="An ISO week, YYYY-Www, e.g. 2026-W34.", json_schema_extra={"pattern": WEEK_PATTERN}),
]
MonthQ = Annotated[
    str | None, Query(description="A month, YYYY-MM.", json_schema_extra={"pattern": MONTH_PATTERN})
]
SinceQ = Annotated[
    str | None,
    Query(
        description=f"Listed on or after, YYYY-MM-DD, {_RANGE}.", json_schema_extra={"pattern": DAY_PATTERN}
    ),
]
UntilQ = Annotated[
    str | None,
    Query(
        description=f"Listed on or before, YYYY-MM-DD, {_RANGE}.", json_schema_extra={"pattern": DAY_PATTERN}
    ),
]
# The schema names one category per value; a value may also list several, comma- or space-separated.
CategoriesQ = Annotated[
    list[str] | None,
    Query(
        description=f"arXiv category, e.g. cs.CL (repeatable, at most {MAX_CATEGORIES}).",
        json_schema_extra={
            "maxItems": MAX_CATEGORIES,
            "items": {"type": "string", "pattern": CATEGORY_PATTERN, "maxLength": MAX_CATEGORY_CHARS},
        },
    ),
]


# A Hugging Face user name as `submitter=` takes it: any text but control characters (NUL breaks
# PostgreSQL's text: `?submitter=%00` was a 500 there, found by schemathesis at 300 examples a route).
SUBMITTER_PATTERN = f"^[^{CONTROL_CHARS}]+$"
SubmitterQ = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=100,
        description="Only papers this Hugging Face user put on its daily page (`submittedBy.user`).",
        json_schema_extra={"pattern": SUBMITTER_PATTERN},
    ),
]


def parse_submitter(value: str | None) -> str | None:
    """The `submitter=` user name, refused when it holds control characters."""
    if value is not None and has_control_chars(value):
        raise BadRequest("submitter= may not hold control characters")
    return value


MAX_AUTHORS = 5
MAX_AUTHOR_CHARS = 100
# Any text but control characters (NUL breaks PostgreSQL's text; none belongs in a name), listing at
# most MAX_AUTHORS comma-separated names. The limit is per value because OpenAPI can state it there;
# a total over all values it cannot, and a schema-valid request must never be refused (CI of stop 21:
# schemathesis sent one value of six names).
AUTHOR_PATTERN = f"^[^{CONTROL_CHARS},]*(,[^{CONTROL_CHARS},]*){{0,{MAX_AUTHORS - 1}}}$"
AuthorsQ = Annotated[
    list[str] | None,
    Query(
        description=(
            f"Part of an author's name, any case, e.g. Hinton; a value may list up to {MAX_AUTHORS} names, "
            f"comma-separated (repeatable, at most {MAX_AUTHORS} values). A paper matches any of them."
        ),
        json_schema_extra={
            "maxItems": MAX_AUTHORS,
            "items": {"type": "string", "pattern": AUTHOR_PATTERN, "maxLength": MAX_AUTHOR_CHARS},
        },
    ),
]


def parse_authors(values: Sequence[str] | None) -> tuple[str, ...]:
    """Author name parts from `author=` values (each may list up to MAX_AUTHORS, comma-separated), trimmed."""
    values = values or ()
    if len(values) > MAX_AUTHORS:
        raise BadRequest(f"give at most {MAX_AUTHORS} authors ({len(values)} author= values given)")
    out: dict[str, None] = {}
    for value in values:
        if len(value) > MAX_AUTHOR_CHARS:
            raise BadRequest(f"author= values are at most {MAX_AUTHOR_CHARS} characters")
        if has_control_chars(value):
            raise BadRequest("author= values may not hold control characters")
        # A comma separates names, as the search form's one field lists them.
        parts = value.split(",")
        if len(parts) > MAX_AUTHORS:
            raise BadRequest(f"an author= value lists at most {MAX_AUTHORS} names ({len(parts)} given)")
        for part in parts:
            name = " ".join(part.split())
            if name:
                out[name] = None
    return tuple(out)


def parse_categories(values: Sequence[str] | None) -> tuple[str, ...]:
    """arXiv categories from `category=` values, each possibly a comma- or space-separated list."""
    values = values or ()
    if len(values) > MAX_CATEGORIES:
        raise BadRequest(f"give at most {MAX_CATEGORIES} categories ({len(values)} category= values given)")
    out: dict[str, None] = {}  # ordered and de-duplicated
    for value in values:
        if len(value) > MAX_CATEGORY_VALUE_CHARS:
            raise BadRequest(f"category= values are at most {MAX_CATEGORY_VALUE_CHARS} characters")
        for part in re.split(r"[\s,]+", value.strip()):
            if not part:
                continue
            if not _CATEGORY.fullmatch(part) or len(part) > MAX_CATEGORY_CHARS:
                raise BadRequest(f"category={part[:40]!r} is not an arXiv category (e.g. cs.CL, hep-th)")
            out[part] = None
            if len(out) > MAX_CATEGORIES:
                raise BadRequest(f"give at most {MAX_CATEGORIES} categories")
    return tuple(out)


def parse_filters(
    *,
    since: str | None,
    until: str | None,
    categories: Sequence[str] | None,
    authors: Sequence[str] | None = None,
) -> Filters:
    """Search filters from query parameters; BadRequest for a malformed value."""
    start = parse_day(since, name="since") if since else None
    end = parse_day(until, name="until") if until else None
    if start and end and start > end:
        raise BadRequest(f"since={start} is after until={end}")
    return Filters(
        since=start, until=end, categories=parse_categories(categories), authors=parse_authors(authors)
    )


def require_known(*, conn: Connection, filters: Filters) -> Filters:
    """The filters, or BadRequest naming each category or author no stored paper has (API, feeds)."""
    notes = search_filters.unknown_notes(search_filters.unknown(conn=conn, filters=filters))
    if notes:
        raise BadRequest("; ".join(notes))
    return filters


def known_categories(*, conn: Connection, category: Sequence[str] | None) -> tuple[str, ...]:
    """The categories of `category=` values; BadRequest for a malformed one or one no stored paper has
    (API, feeds)."""
    return require_known(conn=conn, filters=Filters(categories=parse_categories(category))).categories


def known_only(*, conn: Connection, filters: Filters) -> tuple[Filters, list[str]]:
    """The filters without categories or authors no stored paper has, and a note on each (pages)."""
    missing = search_filters.unknown(conn=conn, filters=filters)
    if missing.empty:
        return filters, []
    kept = replace(
        filters,
        categories=tuple(c for c in filters.categories if c not in missing.categories),
        authors=tuple(a for a in filters.authors if a not in missing.authors),
    )
    return kept, [
        f"{n[0].upper()}{n[1:]}, so that filter was left out." for n in search_filters.unknown_notes(missing)
    ]


def clean_query(q: str | None) -> str:
    """The user's query, trimmed; very long input is cut rather than refused."""
    return " ".join((q or "").split())[:MAX_QUERY_CHARS]
