"""JSON API, shaped like Hugging Face's where a field means the same (issue #4).

`/api/daily_papers` answers a bare list of items `{paper: {...}, title, summary, publishedAt,
numComments}` as Hugging Face does, so scripts written against theirs read ours. Fields Hugging Face
has no name for use ours, in the same camelCase. Invalid parameters are 4xx JSON, never 500.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from papertrend import __version__
from papertrend.db import reading
from papertrend.errors import NotFound
from papertrend.papers import listings, repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.listings import Period, TrendSort, Window, period_of
from papertrend.papers.models import Paper
from papertrend.search.language import guess
from papertrend.search.tantivy_index import IndexState
from papertrend.types import Filters, Hit, Mode, Sort
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
    parse_categories,
    parse_filters,
    require_known,
)
from papertrend.web.search_holder import VectorState
from papertrend.web.templating import pdf_url, safe_url


class ErrorDetail(BaseModel):
    loc: list[str]
    msg: str


class ErrorBody(BaseModel):
    status: int
    message: str
    details: list[ErrorDetail] | None = Field(default=None, description="Which parameters were invalid.")


class ErrorOut(BaseModel):
    """Every error, from every route: one shape (see web.errors.error_response)."""

    error: ErrorBody


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "A parameter is malformed (a date, week, id, category)."},
    404: {"model": ErrorOut, "description": "No such paper."},
    422: {"model": ErrorOut, "description": "A parameter is missing, out of range or of the wrong type."},
}

router = APIRouter(prefix="/api", tags=["papers"], responses=ERRORS)
health_router = APIRouter(tags=["operations"])

PageQ = Annotated[int, Query(ge=0, le=10_000, description="Page number, from 0.")]
LimitQ = Annotated[int, Query(ge=1, le=100, description="Items per page.")]
# Documents the ids of arXiv's two schemes (#12, item 8); the route also reads other spellings
# (arXiv:…, an arxiv.org URL) and answers 400 for what is no id, 404 for an id not stored.
PAPER_ID_PATTERN = (
    r"^(?:[0-9]{2}(?:0[1-9]|1[0-2])\.[0-9]{4,5}|[a-z]+(?:-[a-z]+)*(?:\.[A-Z]{2})?/[0-9]{7})"
    r"(?:v[1-9][0-9]{0,2})?$"
)
PaperIdP = Annotated[
    str,
    Path(
        description="An arXiv id, e.g. 2408.12345 or hep-th/9901001, with or without a version.",
        json_schema_extra={"pattern": PAPER_ID_PATTERN},
    ),
]


class Author(BaseModel):
    name: str


class PaperOut(BaseModel):
    """One paper. Hugging Face's names: id … ai_keywords; ours after."""

    id: str = Field(description="arXiv id without version.")
    title: str
    summary: str = Field(description="The abstract.")
    authors: list[Author]
    publishedAt: datetime | None = Field(description="First published on arXiv.")
    submittedOnDailyAt: datetime | None = Field(description="When it was put on Hugging Face's daily page.")
    upvotes: int = Field(description="Hugging Face upvotes plus upvotes here.")
    numComments: int
    githubRepo: str | None
    githubStars: int | None
    projectPage: str | None
    ai_summary: str | None
    ai_keywords: list[str] | None
    version: int | None
    categories: list[str] = Field(description="arXiv categories, primary first.")
    primaryCategory: str | None
    comment: str | None
    journalRef: str | None
    doi: str | None
    updatedAt: datetime | None
    listedOn: date | None = Field(description="The listing day the daily pages group it under.")
    arxivUrl: str
    pdfUrl: str
    hfUpvotes: int | None = Field(description="Upvotes imported from Hugging Face.")
    url: str = Field(description="Its page on this service.")


class DailyPaper(BaseModel):
    """One item of a listing, search or ranking, as Hugging Face's daily papers list has it."""

    paper: PaperOut
    title: str
    summary: str
    publishedAt: datetime | None = Field(description="When it was listed (the day it is grouped under).")
    numComments: int
    score: float | None = Field(
        default=None, description="The ranking score, when ranked by trending score or search relevance."
    )


class SourceHealth(BaseModel):
    lastRunAt: datetime
    lastRunOk: bool
    lastError: str | None
    lastSuccessAt: datetime | None


class Health(BaseModel):
    status: Literal["ok", "warming", "error"] = Field(
        description="`warming` (HTTP 503) while this process loads its model and vector index (#15)."
    )
    version: str
    database: bool
    databaseError: str | None = None
    papers: int | None = None
    latestDay: date | None = None
    ingest: dict[str, SourceHealth] = Field(default_factory=dict, description="Per source.")
    vectorIndex: VectorState | None = Field(
        default=None,
        description="This process's model and vector index: `cold` (loaded by the first search), `warming`"
        " (loading at start), `ready`, or `unavailable` (no model: searches fall back to keyword).",
    )
    keywordIndex: IndexState | None = Field(
        default=None,
        description="The host's keyword index as this process sees it: `building` while its first sync"
        " runs (at start, or when the index is rebuilt), then `ready`.",
    )


def paper_out(p: Paper, *, base_url: str) -> PaperOut:
    """A stored paper in the API's shape."""
    return PaperOut(
        id=p.id,
        title=p.title,
        summary=p.abstract,
        authors=[Author(name=a) for a in p.authors],
        publishedAt=p.published_at,
        submittedOnDailyAt=p.hf_submitted_at,
        upvotes=p.votes,
        numComments=p.hf_comments or 0,
        githubRepo=safe_url(p.code_url),
        githubStars=p.github_stars,
        projectPage=safe_url(p.project_url),
        ai_summary=p.hf_ai_summary,
        ai_keywords=p.hf_ai_keywords,
        version=p.version,
        categories=p.categories,
        primaryCategory=p.primary_category,
        comment=p.comment,
        journalRef=p.journal_ref,
        doi=p.doi,
        updatedAt=p.updated_at,
        listedOn=p.listed_on or p.hf_daily_on,
        arxivUrl=p.abs_url,
        pdfUrl=pdf_url(p),
        hfUpvotes=p.hf_upvotes,
        url=f"{base_url.rstrip('/')}/papers/{p.id}",
    )


def daily_item(p: Paper, *, base_url: str, score: float | None = None) -> DailyPaper:
    """A paper as one item of a list."""
    listed = p.listed_on or p.hf_daily_on
    when = p.hf_submitted_at or (datetime.combine(listed, time(), tzinfo=UTC) if listed else p.published_at)
    return DailyPaper(
        paper=paper_out(p, base_url=base_url),
        title=p.title,
        summary=p.abstract,
        publishedAt=when,
        numComments=p.hf_comments or 0,
        score=score,
    )


def items(conn: ConnDep, hits: list[Hit], *, base_url: str) -> list[DailyPaper]:
    """Hits as list items, in their order, with their scores."""
    found = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
    scores = {h.paper_id: h.score for h in hits}
    return [daily_item(p, base_url=base_url, score=scores[p.id]) for p in found]


@router.get("/daily_papers", response_model=list[DailyPaper])
def daily_papers(
    conn: ConnDep,
    state: StateDep,
    date_: DateQ = None,
    week: WeekQ = None,
    month: MonthQ = None,
    sort: Annotated[
        Literal["publishedAt", "trending", "upvotes"],
        Query(description="Newest first, by trending score, or most upvoted first."),
    ] = "publishedAt",
    p: PageQ = 0,
    limit: LimitQ = 50,
    category: CategoriesQ = None,
) -> list[DailyPaper]:
    """Papers of a day, week or month (default: the latest day that has papers), in any of the
    categories given; a category no stored paper has is a 400."""
    period: Period | None = listings.parse_period(day=date_, week=week, month=month)
    cats = require_known(conn=conn, filters=Filters(categories=parse_categories(category))).categories
    if period is None:
        latest = repository.latest_day(conn=conn)
        if latest is None:
            return []
        period = period_of("day", latest)
    base = state.settings.base_url
    if sort == "trending":
        hits = listings.ranked_period(
            conn=conn, period=period, sort="trending", now=state.clock(), params=state.trend, categories=cats
        )
        return items(conn, hits[p * limit : (p + 1) * limit], base_url=base)
    rows = listings.papers_for_days(
        conn=conn,
        start=period.start,
        end=period.end,
        order="upvotes" if sort == "upvotes" else "newest",
        limit=limit,
        offset=p * limit,
        categories=cats,
    )
    return [daily_item(row, base_url=base) for row in rows]


@router.get("/trending", response_model=list[DailyPaper])
def trending(
    conn: ConnDep,
    state: StateDep,
    window: Annotated[Window, Query(description="The last day, 7 days or 30 days that have papers.")] = "day",
    sort: TrendSort = "trending",
    p: PageQ = 0,
    limit: LimitQ = 50,
) -> list[DailyPaper]:
    """Papers of the window ranked by trending score (see the trending page for the formula)."""
    _period, hits = listings.ranked_window(
        conn=conn, window=window, sort=sort, now=state.clock(), params=state.trend
    )
    return items(conn, hits[p * limit : (p + 1) * limit], base_url=state.settings.base_url)


@router.get("/papers/search", response_model=list[DailyPaper])
def search(
    conn: ConnDep,
    state: StateDep,
    response: Response,
    q: Annotated[str, Query(min_length=1, max_length=4096, description="What you are looking for.")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    since: SinceQ = None,
    until: UntilQ = None,
    category: CategoriesQ = None,
    author: AuthorsQ = None,
    mode: Mode = "hybrid",
    sort: Sort = "relevance",
) -> list[DailyPaper]:
    """Search by meaning and words; `X-Search-Mode` says which mode answered, `X-Did-You-Mean`
    (percent-encoded UTF-8, when present) a correction of rare or unknown words from the corpus, and
    `X-Query-Language` the language a query not in English seems to be in (results may be poor)."""
    filters = parse_filters(since=since, until=until, categories=category, authors=author)
    require_known(conn=conn, filters=filters)
    query = clean_query(q)
    if not query:
        return []
    hits, used = state.search.search(query=query, mode=mode, limit=limit, filters=filters, sort=sort)
    response.headers["x-search-mode"] = used
    language = guess(query)
    if language:
        response.headers["x-query-language"] = quote(language, safe="")
    suggestion = state.search.did_you_mean(query=query)
    if suggestion:
        response.headers["x-did-you-mean"] = quote(suggestion, safe="")
    return items(conn, hits, base_url=state.settings.base_url)


@router.get("/papers/{paper_id:path}/similar", response_model=list[DailyPaper])
def similar(conn: ConnDep, state: StateDep, paper_id: PaperIdP, limit: LimitQ = 8) -> list[DailyPaper]:
    """Papers nearest in meaning to one paper; empty until it has been embedded."""
    key = parse_arxiv_id(paper_id).key
    paper = repository.get(conn=conn, paper_id=key)
    if paper is None:
        raise NotFound(f"no paper {key} is stored")
    if not listings.has_vector(conn=conn, paper_pk=paper.pk):
        return []
    return items(conn, state.search.similar(paper_id=key, limit=limit), base_url=state.settings.base_url)


@router.get("/papers/{paper_id:path}", response_model=PaperOut)
def paper(conn: ConnDep, state: StateDep, paper_id: PaperIdP) -> PaperOut:
    """One paper by arXiv id (any spelling: 2401.01234v2, arXiv:…, an arxiv.org URL)."""
    key = parse_arxiv_id(paper_id).key
    found = repository.get(conn=conn, paper_id=key)
    if found is None:
        raise NotFound(f"no paper {key} is stored")
    return paper_out(found, base_url=state.settings.base_url)


@health_router.get(
    "/healthz",
    response_model=Health,
    responses={
        503: {
            "model": Health,
            "description": "The database cannot be reached, or the process is still warming its search.",
        }
    },
)
def healthz(state: StateDep, response: Response) -> Health:
    """Database reachability and, per source, the last ingest run and the last successful one."""
    try:
        with reading(state.engine) as conn:
            total = repository.count(conn=conn)
            latest = repository.latest_day(conn=conn)
            runs = listings.ingest_health(conn=conn)
    except SQLAlchemyError as exc:
        response.status_code = 503
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0][:200]
        return Health(status="error", version=__version__, database=False, databaseError=reason)
    warming = state.search.vectors == "warming" or state.search.words.state_now == "building"
    if warming:
        response.status_code = 503
    return Health(
        status="warming" if warming else "ok",
        version=__version__,
        database=True,
        papers=total,
        latestDay=latest,
        ingest={
            r.source: SourceHealth(
                lastRunAt=r.last_run_at,
                lastRunOk=r.last_run_ok,
                lastError=r.last_error,
                lastSuccessAt=r.last_success_at,
            )
            for r in runs
        },
        keywordIndex=state.search.words.state_now,
        vectorIndex=state.search.vectors,
    )
