"""JSON API, shaped like Hugging Face's papers API wherever a route exists on both (issues #4, #16).

`/api/daily_papers`, `/api/papers/search`, `/api/papers/{id}` and `/api/papers?cursor=` take Hugging
Face's parameters and answer its shapes (web/api_models.py), so scripts and its client library
written against theirs read ours; errors under /api/ are `{"error": "…"}` as theirs are. Routes it has
no twin for (`/api/trending`, `/similar`, `/bibtex`) follow the same conventions. docs/api.md lists
what matches and where Papertrend differs. Invalid parameters are 4xx JSON, never 500.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError

from papertrend import __version__
from papertrend.db import reading
from papertrend.errors import BadRequest, NotFound
from papertrend.library import bibtex
from papertrend.papers import listings, repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.listings import Period, TrendSort, Window, period_of
from papertrend.papers.models import Paper
from papertrend.search.language import guess
from papertrend.search.tantivy_index import IndexState
from papertrend.types import Hit, Mode, Sort
from papertrend.web import cursor
from papertrend.web.api_models import (
    API_ERRORS,
    API_ERRORS_AS_JSON,
    DailyPaper,
    PaperOut,
    daily_item,
    paper_out,
)
from papertrend.web.deps import ConnDep, StateDep
from papertrend.web.params import (
    AuthorsQ,
    CategoriesQ,
    DateQ,
    MonthQ,
    SinceQ,
    SubmitterQ,
    UntilQ,
    WeekQ,
    clean_query,
    known_categories,
    parse_filters,
    parse_submitter,
    require_known,
)
from papertrend.web.search_holder import VectorState

router = APIRouter(prefix="/api", tags=["papers"], responses=API_ERRORS)
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


def items(conn: ConnDep, hits: list[Hit], *, base_url: str) -> list[DailyPaper]:
    """Hits as list items, in their order, with their scores."""
    found = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
    scores = {h.paper_id: h.score for h in hits}
    return [daily_item(p, base_url=base_url, score=scores[p.id]) for p in found]


def stored(conn: ConnDep, paper_id: str) -> Paper:
    """The stored paper of any spelling of its id; 400 for what is no id, 404 for one not stored."""
    key = parse_arxiv_id(paper_id).key
    found = repository.get(conn=conn, paper_id=key)
    if found is None:
        raise NotFound(f"Paper not found: {key} is not stored here.")
    return found


def refuse_unsupported(request: Request, names: dict[str, str]) -> None:
    """A 400 for a Hugging Face parameter this route does not take: ignoring it would answer
    something other than what was asked (every paper instead of a search, say)."""
    for name, instead in names.items():
        if name in request.query_params:
            raise BadRequest(f"`{name}` is not supported here; {instead}")


_RANKED: dict[str, TrendSort] = {"publishedAt": "newest", "trending": "trending", "upvotes": "upvotes"}


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
    submitter: SubmitterQ = None,
) -> list[DailyPaper]:
    """Papers of a day, week or month (default: the latest day that has papers), in any of the
    categories given (a category no stored paper has is a 400), or only those one Hugging Face user
    put on its daily page."""
    period: Period | None = listings.parse_period(day=date_, week=week, month=month)
    submitter = parse_submitter(submitter)
    cats = known_categories(conn=conn, category=category)
    if period is None:
        latest = repository.latest_day(conn=conn, categories=cats)
        if latest is None:
            return []
        period = period_of("day", latest)
    base = state.settings.base_url
    if submitter is not None:
        # A user submits a few papers a day: rank the period as without the filter, keep theirs.
        theirs = repository.ids_submitted_by(conn=conn, user=submitter, start=period.start, end=period.end)
        if not theirs:
            return []
        ranked = listings.ranked_period(
            conn=conn,
            period=period,
            sort=_RANKED[sort],
            now=state.clock(),
            params=state.trend,
            categories=cats,
        )
        hits = [h for h in ranked if h.paper_id in theirs][p * limit : (p + 1) * limit]
        if sort == "trending":
            return items(conn, hits, base_url=base)
        return [
            daily_item(row, base_url=base)
            for row in repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
        ]
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
    category: CategoriesQ = None,
) -> list[DailyPaper]:
    """Papers of the window ranked by trending score (see the trending page for the formula), in any
    of the categories given."""
    cats = known_categories(conn=conn, category=category)
    _period, hits = listings.ranked_window(
        conn=conn, window=window, sort=sort, now=state.clock(), params=state.trend, categories=cats
    )
    return items(conn, hits[p * limit : (p + 1) * limit], base_url=state.settings.base_url)


@router.get("/papers/search", response_model=list[DailyPaper])
def search(
    request: Request,
    conn: ConnDep,
    state: StateDep,
    response: Response,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=4096,
            description=(
                'What you are looking for: words, "quoted phrases", -excluded words. One arXiv id or paper '
                "link (2401.01234, an arxiv.org or huggingface.co/papers URL) returns that paper alone, or "
                "nothing when it is not stored here."
            ),
        ),
    ],
    # Hugging Face's own bounds for this route's limit (1 to 120).
    limit: Annotated[int, Query(ge=1, le=120, description="How many results, at most.")] = 20,
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
    # The answer is the `limit` best, as Hugging Face's: a page parameter, ignored, gave a client
    # paging through results the first page again and again.
    refuse_unsupported(
        request, {n: "search has no pages; ask for up to 120 with limit" for n in ("p", "page", "offset")}
    )
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


@router.get(
    "/papers",
    response_model=list[PaperOut],
    responses={
        200: {
            "description": "Papers, newest published first; when there are more, a `Link` header gives"
            ' the next page: `<…/api/papers?cursor=…&limit=…>; rel="next"`.',
            "headers": {
                "Link": {"description": "The next page, when there is one.", "schema": {"type": "string"}}
            },
        }
    },
)
def papers(
    request: Request,
    response: Response,
    conn: ConnDep,
    state: StateDep,
    cursor_: Annotated[
        str | None,
        Query(
            alias="cursor",
            min_length=1,
            max_length=200,
            description="Where to continue: the `cursor` of the previous answer's `Link` header.",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="Papers per page.")] = 50,
) -> list[PaperOut]:
    """Every stored paper, newest published first (papers without a publication time last), a page
    at a time, as Hugging Face's list of papers pages. Searching is `/api/papers/search`."""
    refuse_unsupported(request, {n: "to search, use /api/papers/search?q=…" for n in ("search", "q")})
    after = cursor.decode(cursor_) if cursor_ is not None else None
    found = repository.newest_published(conn=conn, after=after, limit=limit + 1)
    page = found[:limit]
    if len(found) > limit:
        last = page[-1]
        token = cursor.encode(repository.PublishedKey(last.published_at, last.pk))
        query = urlencode({"cursor": token, "limit": limit})
        response.headers["link"] = f'<{state.settings.base_url.rstrip("/")}/api/papers?{query}>; rel="next"'
    return [paper_out(p, base_url=state.settings.base_url) for p in page]


@router.get("/papers/{paper_id:path}/similar", response_model=list[DailyPaper])
def similar(conn: ConnDep, state: StateDep, paper_id: PaperIdP, limit: LimitQ = 8) -> list[DailyPaper]:
    """Papers nearest in meaning to one paper; empty until it has been embedded."""
    paper = stored(conn, paper_id)
    if not listings.has_vector(conn=conn, paper_pk=paper.pk):
        return []
    return items(conn, state.search.similar(paper_id=paper.id, limit=limit), base_url=state.settings.base_url)


@router.get(
    "/papers/{paper_id:path}/bibtex",
    response_class=PlainTextResponse,
    responses={
        200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "A @misc entry."},
        **API_ERRORS_AS_JSON,
    },
)
def paper_bibtex(conn: ConnDep, paper_id: PaperIdP) -> PlainTextResponse:
    """The paper as a BibTeX entry, the same as its page's "Cite (BibTeX)" (arXiv's own export style)."""
    return PlainTextResponse(bibtex.dumps([stored(conn, paper_id)]))


@router.get("/papers/{paper_id:path}", response_model=PaperOut)
def paper(conn: ConnDep, state: StateDep, paper_id: PaperIdP) -> PaperOut:
    """One paper by arXiv id (any spelling: 2401.01234v2, arXiv:…, an arxiv.org URL)."""
    return paper_out(stored(conn, paper_id), base_url=state.settings.base_url)


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
