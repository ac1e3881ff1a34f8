"""Listing queries for the read side: periods (day, ISO week, month), neighbours, trending candidates.

Functions take the caller's connection and never commit (DESIGN §6.1). `Period` and its parsers are
pure: pages, the JSON API and the feeds read `?date=`, `?week=` and `?month=` the same way.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.db import PerEngine
from papertrend.errors import BadRequest
from papertrend.ingest.tables import ingest_runs
from papertrend.papers import votes
from papertrend.papers.models import Paper
from papertrend.papers.repository import (
    by_authors,
    count_and_last_change,
    in_categories,
    latest_day,
    listing_day_expr,
    select_with_votes,
    total_votes_expr,
)
from papertrend.papers.tables import papers
from papertrend.rank import Candidate, TrendParams, most_upvoted, newest, trending
from papertrend.search.tables import embeddings
from papertrend.types import Hit

PeriodKind = Literal["day", "week", "month"]
Window = Literal["day", "week", "month"]
Order = Literal["upvotes", "newest"]
TrendSort = Literal["trending", "upvotes", "newest"]

_WEEK = re.compile(r"(\d{4})-?[Ww](\d{1,2})")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
# The days a request may name (#12): arXiv began in 1991, so this leaves room for older papers loaded
# from files and for any future, while keeping date arithmetic (a week's Sunday, a next day's
# midnight) far from date.max, where `date=9999-12-31` or `week=9999-W52` raised OverflowError: a 500.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(2999, 12, 31)
# Trending windows reach back from the latest listed day: a day, 7 days, 30 days.
WINDOW_DAYS: dict[Window, int] = {"day": 1, "week": 7, "month": 30}


@dataclass(frozen=True, slots=True)
class Period:
    """A run of listing days, both ends included."""

    kind: PeriodKind
    start: date
    end: date

    @property
    def param(self) -> tuple[str, str]:
        """The query parameter that names this period, e.g. ("week", "2026-W34")."""
        if self.kind == "day":
            return ("date", self.start.isoformat())
        if self.kind == "week":
            year, week, _ = self.start.isocalendar()
            return ("week", f"{year}-W{week:02d}")
        return ("month", f"{self.start.year}-{self.start.month:02d}")

    @property
    def label(self) -> str:
        """How a heading names it."""
        if self.kind == "day":
            return self.start.strftime("%A, %d %B %Y")
        if self.kind == "week":
            return f"Week {self.param[1]} ({self.start:%d %b} – {self.end:%d %b %Y})"
        return self.start.strftime("%B %Y")


def period_of(kind: PeriodKind, day: date) -> Period:
    """The day, ISO week or month that contains `day`."""
    if kind == "day":
        return Period("day", day, day)
    if kind == "week":
        monday = day - timedelta(days=day.weekday())
        return Period("week", monday, monday + timedelta(days=6))
    last = calendar.monthrange(day.year, day.month)[1]
    return Period("month", day.replace(day=1), day.replace(day=last))


def parse_day(value: str, *, name: str = "date") -> date:
    """YYYY-MM-DD from FIRST_DAY to LAST_DAY, or BadRequest naming the parameter."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise BadRequest(f"{name}={value!r} is not a date (expected YYYY-MM-DD)") from None
    return _in_range(day, name=name, value=value)


def _in_range(day: date, *, name: str, value: str) -> date:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadRequest(f"{name}={value!r} is out of range: days run from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_period(
    *, day: str | None = None, week: str | None = None, month: str | None = None
) -> Period | None:
    """The period that `?date=`, `?week=` (YYYY-Www) or `?month=` (YYYY-MM) names; None for none."""
    given = [(n, v) for n, v in (("date", day), ("week", week), ("month", month)) if v]
    if not given:
        return None
    if len(given) > 1:
        raise BadRequest("give only one of date, week or month")
    name, value = given[0]
    value = value.strip()
    if name == "date":
        return period_of("day", parse_day(value))
    if name == "week":
        m = _WEEK.fullmatch(value)
        try:
            if not m:
                raise ValueError
            monday = date.fromisocalendar(int(m[1]), int(m[2]), 1)
        except ValueError:
            raise BadRequest(
                f"week={value!r} is not an ISO week (expected YYYY-Www, e.g. 2026-W34)"
            ) from None
        return period_of("week", _in_range(monday, name=name, value=value))
    m = _MONTH.fullmatch(value)
    try:
        if not m:
            raise ValueError
        first = date(int(m[1]), int(m[2]), 1)
    except ValueError:
        raise BadRequest(f"month={value!r} is not a month (expected YYYY-MM)") from None
    return period_of("month", _in_range(first, name=name, value=value))


def window_period(window: Window, *, latest: date) -> Period:
    """The trending window ending on `latest`, the newest day that has papers."""
    return Period("day", latest - timedelta(days=WINDOW_DAYS[window] - 1), latest)


def _in_days(start: date, end: date, categories: Sequence[str]) -> list[sa.ColumnElement[bool]]:
    day = listing_day_expr()
    where = [day >= start, day <= end]
    if categories:
        where.append(in_categories(categories))
    return where


def papers_for_days(
    *,
    conn: Connection,
    start: date,
    end: date,
    order: Order = "upvotes",
    limit: int = 50,
    offset: int = 0,
    categories: Sequence[str] = (),
) -> list[Paper]:
    """Papers listed on days in [start, end] (in any of `categories`, when given): most upvoted first,
    or most recently published first."""
    day = listing_day_expr()
    if order == "upvotes":
        keys = [total_votes_expr().desc(), papers.c.id.desc()]
    else:
        keys = [day.desc(), papers.c.published_at.desc().nulls_last(), papers.c.id.desc()]
    stmt = select_with_votes().where(*_in_days(start, end, categories)).order_by(*keys)
    stmt = stmt.limit(limit).offset(offset)
    return [Paper(**row) for row in conn.execute(stmt).mappings()]


def count_for_days(*, conn: Connection, start: date, end: date, categories: Sequence[str] = ()) -> int:
    """How many papers are listed on days in [start, end] (in any of `categories`, when given)."""
    stmt = sa.select(sa.func.count()).select_from(papers).where(*_in_days(start, end, categories))
    return int(conn.execute(stmt).scalar_one())


def _as_date(value: object) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def day_before(*, conn: Connection, day: date, categories: Sequence[str] = ()) -> date | None:
    """The latest listing day before `day` that has papers (in any of `categories`, if given)."""
    where = [listing_day_expr() < day, *([in_categories(categories)] if categories else [])]
    return _as_date(conn.execute(sa.select(sa.func.max(listing_day_expr())).where(*where)).scalar())


def day_after(*, conn: Connection, day: date, categories: Sequence[str] = ()) -> date | None:
    """The earliest listing day after `day` that has papers (in any of `categories`, if given)."""
    where = [listing_day_expr() > day, *([in_categories(categories)] if categories else [])]
    return _as_date(conn.execute(sa.select(sa.func.min(listing_day_expr())).where(*where)).scalar())


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Listed:
    """A trending candidate without our own votes, and its paper's pk: what stays the same until the
    papers change."""

    pk: int
    candidate: Candidate


class _ListedCache:
    """The papers of recent periods, per database, kept while the papers are unchanged (#16).

    Listing a month's papers read each one's row (the listing-day index is on an expression, which
    neither database reads as covering) and counted its votes by a correlated subquery: ~380 ms for
    the month trending window at 75k papers. Their votes change far more often than they do, so votes
    are counted afresh on every call and only the paper side is kept, keyed by the papers' count and
    newest `changed_at` (papers.repository.count_and_last_change), which every insert, change and
    deletion moves.
    """

    SIZE = 32

    def __init__(self) -> None:
        self._entries: OrderedDict[tuple[date, date, tuple[str, ...]], tuple[tuple[int, str], list[_Listed]]]
        self._entries = OrderedDict()
        self._lock = threading.Lock()

    def get(self, conn: Connection, start: date, end: date, categories: Sequence[str]) -> list[_Listed]:
        key = (start, end, tuple(categories))
        state = count_and_last_change(conn=conn)
        with self._lock:
            held = self._entries.get(key)
            if held is not None and held[0] == state:
                self._entries.move_to_end(key)
                return held[1]
        listed = _listed(conn, start, end, categories)
        with self._lock:
            self._entries[key] = (state, listed)
            self._entries.move_to_end(key)
            while len(self._entries) > self.SIZE:
                self._entries.popitem(last=False)
        return listed


_cache = PerEngine(_ListedCache)


def _listed(conn: Connection, start: date, end: date, categories: Sequence[str]) -> list[_Listed]:
    day = listing_day_expr()
    stmt = sa.select(
        papers.c.pk,
        papers.c.id,
        papers.c.hf_upvotes,
        day.label("day"),
        papers.c.published_at,
        papers.c.first_seen_at,
    ).where(*_in_days(start, end, categories))
    out = []
    for pk, pid, upvotes, listed, published, first_seen in conn.execute(stmt):
        listed_day = _as_date(listed)
        posted = _midnight(listed_day) if listed_day else published or first_seen
        out.append(_Listed(int(pk), Candidate(paper_id=pid, posted_at=posted, hf_upvotes=int(upvotes or 0))))
    return out


def trend_candidates(
    *, conn: Connection, start: date, end: date, categories: Sequence[str] = ()
) -> list[Candidate]:
    """Every paper listed in [start, end] (in any of `categories`), as ranking input; age counts from
    its listing day."""
    listed = _cache(conn.engine).get(conn, start, end, categories)
    if not listed:
        return []
    # One range read of the votes index rather than IN lists of every pk (6,634 in the month at 75k:
    # building those statements cost more than the reads); only papers with votes get a new record.
    own = votes.counts_between(
        conn=conn, first_pk=min(p.pk for p in listed), last_pk=max(p.pk for p in listed)
    )
    return [p.candidate if p.pk not in own else replace(p.candidate, own_votes=own[p.pk]) for p in listed]


def has_vector(*, conn: Connection, paper_pk: int) -> bool:
    """Whether any embedding model has a vector for the paper (so "similar papers" can answer)."""
    stmt = sa.select(sa.literal(1)).select_from(embeddings).where(embeddings.c.paper_pk == paper_pk).limit(1)
    return conn.execute(stmt).first() is not None


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """The latest ingest run of one source and the latest one that succeeded."""

    source: str
    last_run_at: datetime
    last_run_ok: bool
    last_error: str | None
    last_success_at: datetime | None


def ingest_health(*, conn: Connection) -> list[SourceHealth]:
    """Per source: when it last ran, whether that worked, and when it last succeeded."""
    latest = (
        sa.select(ingest_runs.c.source, sa.func.max(ingest_runs.c.id).label("id"))
        .group_by(ingest_runs.c.source)
        .subquery()
    )
    ok = (
        sa.select(ingest_runs.c.source, sa.func.max(ingest_runs.c.finished_at).label("at"))
        .where(ingest_runs.c.ok.is_(True))
        .group_by(ingest_runs.c.source)
        .subquery()
    )
    stmt = (
        sa.select(
            ingest_runs.c.source, ingest_runs.c.finished_at, ingest_runs.c.ok, ingest_runs.c.error, ok.c.at
        )
        .join(latest, latest.c.id == ingest_runs.c.id)
        .outerjoin(ok, ok.c.source == ingest_runs.c.source)
        .order_by(ingest_runs.c.source)
    )
    return [
        SourceHealth(
            source=row.source,
            last_run_at=row.finished_at,
            last_run_ok=bool(row.ok),
            last_error=row.error,
            last_success_at=row.at,
        )
        for row in conn.execute(stmt)
    ]


def ranked_period(
    *,
    conn: Connection,
    period: Period,
    sort: TrendSort,
    now: datetime,
    params: TrendParams,
    categories: Sequence[str] = (),
) -> list[Hit]:
    """The papers listed in a period, ranked by trending score, votes, or listing time.

    Ages are measured at the end of the period, or now if earlier: a store whose newest papers are
    weeks old (loaded from a file, offline) shows what was trending then, not a flat ranking.
    """
    candidates = trend_candidates(conn=conn, start=period.start, end=period.end, categories=categories)
    if sort == "upvotes":
        return most_upvoted(candidates)
    if sort == "newest":
        return newest(candidates)
    return trending(candidates, now=min(now, _midnight(period.end + timedelta(days=1))), params=params)


def ranked_window(
    *,
    conn: Connection,
    window: Window,
    sort: TrendSort,
    now: datetime,
    params: TrendParams,
    categories: Sequence[str] = (),
) -> tuple[Period | None, list[Hit]]:
    """The trending window ending on the latest listed day, ranked (papers in any of `categories`, when
    given: the window then ends on their latest day); (None, []) when nothing is stored."""
    latest = latest_day(conn=conn, categories=categories)
    if latest is None:
        return None, []
    period = window_period(window, latest=latest)
    return period, ranked_period(
        conn=conn, period=period, sort=sort, now=now, params=params, categories=categories
    )


def papers_with_author(*, conn: Connection, name: str, limit: int = 2_000) -> list[Paper]:
    """Papers one of whose author names holds `name` (any case), newest first (#13).

    A pre-filter for author pages, answered by the author filter's trigram index (`by_authors`); the
    caller keeps the papers where one author's name matches exactly. It was LIKE over every paper's
    JSON author list: 130 ms an author page at 80k, a scan that grows with the store; 1–9 ms through
    the index (the 80k store, 7 names).
    """
    text = " ".join(name.split())
    if not text:
        return []
    day = listing_day_expr()
    stmt = (
        select_with_votes()
        .where(by_authors([text]))
        .order_by(day.desc().nulls_last(), papers.c.published_at.desc().nulls_last(), papers.c.id.desc())
        .limit(limit)
    )
    return [Paper(**row) for row in conn.execute(stmt).mappings()]
