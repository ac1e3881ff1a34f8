"""Server-rendered pages; each names its JSON twin and feed with `<link rel="alternate">` (issue #4).

Every page works with JavaScript off. GET routes never change data (DESIGN §6, "what to avoid").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from papertrend.accounts.tokens import safe_next
from papertrend.db import transaction
from papertrend.errors import NotFound
from papertrend.library import bibtex
from papertrend.library import service as library_service
from papertrend.library.repository import Collection
from papertrend.papers import listings, repository, votes
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.listings import Period, PeriodKind, TrendSort, Window, period_of
from papertrend.papers.models import Paper
from papertrend.rank import explain
from papertrend.search.language import guess
from papertrend.search.language import note as language_note
from papertrend.search.marks import marked
from papertrend.search.query import typed_categories, typed_paper_id
from papertrend.types import Filters, Mode, Sort
from papertrend.web import markdown
from papertrend.web.cookies import current_user
from papertrend.web.deps import CSRF, ConnDep, StateDep
from papertrend.web.errors import wants_json
from papertrend.web.library import saved_pks
from papertrend.web.params import (
    AuthorsQ,
    CategoriesQ,
    DateQ,
    MonthQ,
    SinceQ,
    UntilQ,
    WeekQ,
    clean_query,
    known_only,
    parse_categories,
    parse_filters,
)
from papertrend.web.templating import page_links, query_url, render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50
# How many results a search reads, ranked; pages are cut from them (the Searcher reads 100 anyway).
SEARCH_DEPTH = 100
TRENDING_SIZE = 30
SIMILAR = 8

PageQ = Annotated[int, Query(ge=0, le=10_000, description="Page number, from 0.")]

EXAMPLE_QUERIES = (
    "LLM agents that simulate human behaviour",
    "removing rain from a single photograph",
    '"gaussian splatting" -survey',
)
MODES: tuple[tuple[Mode, str], ...] = (
    ("hybrid", "Meaning and words"),
    ("semantic", "Meaning only"),
    ("keyword", "Words only"),
)
WINDOWS: tuple[tuple[Window, str], ...] = (("day", "Today"), ("week", "This week"), ("month", "This month"))
VIEWS: tuple[tuple[PeriodKind, str], ...] = (("day", "Day"), ("week", "Week"), ("month", "Month"))
SORTS: tuple[tuple[TrendSort, str], ...] = (
    ("trending", "Trending"),
    ("upvotes", "Most upvoted"),
    ("newest", "Newest"),
)


def _period_url(period: Period | None, **extra: Any) -> str | None:
    if period is None:
        return None
    name, value = period.param
    return query_url("/papers", **{name: value}, **extra)


def _daily(
    request: Request,
    conn: ConnDep,
    *,
    period: Period | None,
    page: int,
    categories: tuple[str, ...] = (),
) -> HTMLResponse:
    # A category no stored paper has is named on the page and left out, never silently ignored (#14).
    kept, filter_notes = known_only(conn=conn, filters=Filters(categories=categories))
    cats = list(kept.categories)
    latest = repository.latest_day(conn=conn, categories=cats)
    if period is None and latest is not None:
        period = period_of("day", latest)
    if period is None:
        return render(
            request, "daily.html", {"title": "Papers", "period": None, "papers": [], "has_any": False}
        )
    total = listings.count_for_days(conn=conn, start=period.start, end=period.end, categories=cats)
    papers = listings.papers_for_days(
        conn=conn,
        start=period.start,
        end=period.end,
        limit=PAGE_SIZE,
        offset=page * PAGE_SIZE,
        categories=cats,
    )
    before = listings.day_before(conn=conn, day=period.start, categories=cats)
    after = listings.day_after(conn=conn, day=period.end, categories=cats)
    name, value = period.param
    pages = max(1, -(-total // PAGE_SIZE))
    context = {
        "title": f"Papers of {period.label}",
        "period": period,
        "papers": papers,
        "my_votes": _my_votes(request, conn, papers),
        "my_saved": saved_pks(request, conn, papers),
        "has_any": latest is not None,
        "total": total,
        "page": page,
        "pages": pages,
        "page_links": page_links(
            page=page, pages=pages, url_of=lambda n: _period_url(period, category=cats, p=n or None) or "/"
        ),
        "offset": page * PAGE_SIZE,
        "categories": ", ".join(cats),
        "filter_notes": filter_notes,
        "day_value": period.start.isoformat(),
        "unfiltered_url": _period_url(period) if cats else None,
        "prev_url": _period_url(period_of(period.kind, before) if before else None, category=cats),
        "next_url": _period_url(period_of(period.kind, after) if after else None, category=cats),
        "first_page_url": _period_url(period, category=cats) or "/",
        "prev_page_url": _period_url(period, category=cats, p=page - 1) if page > 0 else None,
        "next_page_url": (
            _period_url(period, category=cats, p=page + 1) if (page + 1) * PAGE_SIZE < total else None
        ),
        "views": [
            (kind, label, _period_url(period_of(kind, period.start), category=cats), kind == period.kind)
            for kind, label in VIEWS
        ],
        "latest_url": query_url("/", category=cats)
        if latest and not period.start <= latest <= period.end
        else None,
        "alternates": [
            {
                "type": "application/json",
                "title": "JSON",
                "href": query_url(
                    "/api/daily_papers", **{name: value}, category=cats, sort="upvotes", p=page or None
                ),
            },
            {
                "type": "application/atom+xml",
                "title": "Atom feed",
                "href": query_url("/feeds/daily.atom", **{name: value}, category=cats),
            },
        ],
    }
    return render(request, "daily.html", context)


# "/" is the listing too: `/?month=2026-06` showed the latest day, the month silently ignored.
@router.get("/", response_class=HTMLResponse)
@router.get("/papers", response_class=HTMLResponse)
def papers_listing(
    request: Request,
    conn: ConnDep,
    date_: DateQ = None,
    week: WeekQ = None,
    month: MonthQ = None,
    p: PageQ = 0,
    category: CategoriesQ = None,
) -> HTMLResponse:
    """Papers of a day, an ISO week or a month (the latest day with papers when none is given), most
    upvoted first, in any of the categories given."""
    period = listings.parse_period(day=date_, week=week, month=month)
    return _daily(request, conn, period=period, page=p, categories=parse_categories(category))


@router.get("/papers/trending", response_class=HTMLResponse)
def trending_page(
    request: Request,
    conn: ConnDep,
    state: StateDep,
    window: Window = "day",
    sort: TrendSort = "trending",
    p: PageQ = 0,
    category: CategoriesQ = None,
) -> HTMLResponse:
    """Papers of the last day, week or month ranked by trending score, votes or age, in any of the
    categories given."""
    # A category no stored paper has is named on the page and left out, as on the listings (#14).
    kept, filter_notes = known_only(conn=conn, filters=Filters(categories=parse_categories(category)))
    cats = list(kept.categories)
    period, hits = listings.ranked_window(
        conn=conn, window=window, sort=sort, now=state.clock(), params=state.trend, categories=cats
    )
    shown = hits[p * TRENDING_SIZE : (p + 1) * TRENDING_SIZE]
    papers = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in shown])
    pages = max(1, -(-len(hits) // TRENDING_SIZE))

    def url(path: str = "/papers/trending", **params: object) -> str:
        return query_url(path, **{"window": window, "sort": sort, "category": cats, **params})

    context = {
        "title": "Trending papers",
        "period": period,
        "papers": papers,
        "my_votes": _my_votes(request, conn, papers),
        "my_saved": saved_pks(request, conn, papers),
        "has_any": period is not None,
        "total": len(hits),
        "offset": p * TRENDING_SIZE,
        "window": window,
        "sort": sort,
        "categories": ", ".join(cats),
        "filter_notes": filter_notes,
        "unfiltered_url": url(category=None) if cats else None,
        "formula": explain(state.trend),
        "windows": [(w, label, url(window=w)) for w, label in WINDOWS],
        "sorts": [(s, label, url(sort=s)) for s, label in SORTS],
        "page": p,
        "pages": pages,
        "first_page_url": url(),
        "prev_page_url": url(p=p - 1) if 0 < p <= pages else None,
        "next_page_url": url(p=p + 1) if (p + 1) * TRENDING_SIZE < len(hits) else None,
        "alternates": [
            {"type": "application/json", "title": "JSON", "href": url("/api/trending", p=p or None)},
            {
                "type": "application/atom+xml",
                "title": "Trending papers (Atom)",
                "href": url("/feeds/trending.atom", sort=None),
            },
        ],
    }
    return render(request, "trending.html", context)


def _author_named(query: str, papers: Sequence[Paper]) -> str | None:
    """A shown paper's author whose name is the whole query ("yann lecun"), spelled as the paper does."""
    # Read off the papers already loaded, so it costs no query: the author's papers rank first for
    # their name, which search matches in the author field.
    key = library_service.author_key(query)
    return next((a for p in papers for a in p.authors if library_service.author_key(a) == key), None)


def _search_url(params: dict[str, Any], sort: Sort, limit: int, page: int) -> str:
    return query_url("/search", **params, sort=sort, limit=limit if limit != 20 else None, p=page or None)


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    conn: ConnDep,
    state: StateDep,
    q: str = "",
    since: SinceQ = None,
    until: UntilQ = None,
    category: CategoriesQ = None,
    author: AuthorsQ = None,
    mode: Mode = "hybrid",
    sort: Sort = "relevance",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    p: PageQ = 0,
) -> Response:
    """Search by meaning and words, with date, category and author filters, a page at a time."""
    query = clean_query(q)
    rest, typed = typed_categories(query)
    if typed:  # "cs.CL agents" means agents in cs.CL: the category becomes the filter it names
        categories = [*(category or []), *typed]
        if not rest:
            return RedirectResponse(query_url("/papers", category=categories), status_code=303)
        moved = {"q": rest, "since": since, "until": until, "category": categories, "author": author}
        return RedirectResponse(query_url("/search", **moved, mode=mode, sort=sort), status_code=303)
    filters, filter_notes = known_only(
        conn=conn, filters=parse_filters(since=since, until=until, categories=category, authors=author)
    )
    form = {
        "q": query,
        "since": since or "",
        "until": until or "",
        "category": ", ".join(filters.categories),
        "author": ", ".join(filters.authors),
        "mode": mode,
        "sort": sort,
    }
    context: dict[str, Any] = {
        "title": f"{query} — search" if query else "Search",
        "form": form,
        "q": query,
        "modes": MODES,
        "examples": [(e, query_url("/search", q=e)) for e in EXAMPLE_QUERIES],
        "papers": [],
        "scores": {},
        "used_mode": mode,
        "notice": None,
        "filtered": not filters.empty,
        "unfiltered_url": query_url("/search", q=query, mode=mode),
        "texts": {},
        "total": 0,
        "capped": False,
        "page": p,
        "offset": p * limit,
        "pages": 1,
        "page_links": [],
        "first_page_url": None,
        "prev_page_url": None,
        "next_page_url": None,
        "alternates": [],
        "did_you_mean": None,
        "language_note": None,
        "filter_notes": filter_notes,
        "missing_id": None,
        "author_named": None,
    }
    if not query:
        return render(request, "search.html", context)
    # Every candidate is read (the search reads this many anyway) so the page can say how many
    # there are and number its pages (#14); only the shown page's papers are loaded.
    hits, used = state.search.search(query=query, mode=mode, limit=SEARCH_DEPTH, filters=filters, sort=sort)
    paper_id = typed_paper_id(query)
    if paper_id is not None:
        if hits:  # an id pasted into the search box wants that paper's page
            return RedirectResponse(f"/papers/{paper_id}", status_code=303)
        context["missing_id"] = paper_id
        return render(request, "search.html", context)
    shown = hits[p * limit : (p + 1) * limit]
    papers = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in shown])
    pages = max(1, -(-len(hits) // limit))
    params = {
        "q": query,
        "since": since,
        "until": until,
        "category": list(filters.categories),
        "author": list(filters.authors),
        "mode": mode,
    }
    suggestion = state.search.did_you_mean(query=query)
    language = guess(query)
    context.update(
        language_note=language_note(language) if language else None,
        did_you_mean=(
            (suggestion, query_url("/search", **{**params, "q": suggestion}, sort=sort))
            if suggestion
            else None
        ),
        papers=papers,
        author_named=_author_named(query, papers),
        my_saved=saved_pks(request, conn, papers),
        scores={h.paper_id: h.score for h in shown},
        used_mode=used,
        notice=(
            "Search by meaning is not available on this server right now, so these results match your "
            "words only."
            if used != mode
            else None
        ),
        texts={x.id: marked(title=x.title, abstract=x.abstract, query=query) for x in papers},
        my_votes=_my_votes(request, conn, papers),
        total=len(hits),
        capped=len(hits) >= SEARCH_DEPTH,
        pages=pages,
        page_links=page_links(page=p, pages=pages, url_of=lambda n: _search_url(params, sort, limit, n)),
        first_page_url=_search_url(params, sort, limit, 0),
        prev_page_url=_search_url(params, sort, limit, p - 1) if p > 0 else None,
        next_page_url=_search_url(params, sort, limit, p + 1) if p + 1 < pages else None,
        alternates=[
            {
                "type": "application/json",
                "title": "JSON",
                "href": query_url("/api/papers/search", **params, sort=sort, limit=limit),
            },
            {
                "type": "application/atom+xml",
                "title": f"Search: {query} (Atom)",
                "href": query_url("/feeds/search.atom", **params),
            },
        ],
    )
    return render(request, "search.html", context)


def _similar(state: StateDep, conn: ConnDep, paper: Paper) -> list[Paper]:
    # Only papers with a vector can have neighbours; checking first keeps pages of papers not yet
    # embedded from loading the model at all.
    if not listings.has_vector(conn=conn, paper_pk=paper.pk):
        return []
    hits = state.search.similar(paper_id=paper.id, limit=SIMILAR)
    return repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])


def _collections(request: Request, conn: ConnDep) -> list[Collection]:
    """The signed-in reader's collections, for the paper page's "Save to" (#13)."""
    user = current_user(request)
    return library_service.collections(conn=conn, user_id=user.id) if user is not None else []


def _my_votes(request: Request, conn: ConnDep, found: Sequence[Paper]) -> frozenset[int]:
    """Which of these papers the signed-in user has upvoted (one query; none when signed out)."""
    user = current_user(request)
    if user is None or not found:
        return frozenset()
    return frozenset(votes.voted_by(conn=conn, user_id=user.id, paper_pks=[p.pk for p in found]))


@router.post("/papers/{paper_id:path}/upvote", dependencies=[CSRF])
def upvote(
    request: Request,
    state: StateDep,
    paper_id: str,
    vote: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    """Upvote or take back the upvote (issue #4, part 2); signed out, go to sign-in first.

    `vote=1` / `vote=0` say what the button showed, so a double submit cannot undo itself; without
    it the vote flips. Forms are redirected back (303); JSON clients (static/app.js) get the count.
    """
    key = parse_arxiv_id(paper_id).key
    back = safe_next(next_) or f"/papers/{key}"
    user = current_user(request)
    if user is None:
        if wants_json(request):
            return JSONResponse(
                {
                    "error": {
                        "status": 401,
                        "message": "Sign in to upvote.",
                        "login": query_url("/login", next=back),
                    }
                },
                status_code=401,
            )
        return RedirectResponse(query_url("/login", next=back), status_code=303)
    want = {"1": True, "0": False}.get(vote.strip())
    with transaction(state.engine) as conn:
        paper = repository.get(conn=conn, paper_id=key)
        if paper is None:
            raise NotFound(f"No paper {key} is stored here.")
        upvoted = votes.toggle(conn=conn, user_id=user.id, paper_pk=paper.pk, want=want, now=state.clock())
        after = repository.get(conn=conn, paper_id=key)
    if wants_json(request):
        return JSONResponse({"id": key, "upvoted": upvoted, "upvotes": after.votes if after else 0})
    return RedirectResponse(back, status_code=303)


@router.get("/abs/{paper_id:path}")
def abs_redirect(paper_id: str) -> RedirectResponse:
    """arXiv's own address shape (`/abs/2501.01234v2`) leads to the paper's page here (#14)."""
    return RedirectResponse(f"/papers/{parse_arxiv_id(paper_id).key}", status_code=308)


@router.get("/papers/{paper_id:path}", response_class=HTMLResponse)
def paper_page(request: Request, paper_id: str, conn: ConnDep, state: StateDep) -> Response:
    """One paper: full abstract, every author, links, signals, similar papers."""
    key = parse_arxiv_id(paper_id).key
    if key != paper_id:
        # One address per paper: versions and arXiv URLs lead to the canonical page.
        return RedirectResponse(f"/papers/{key}", status_code=308)
    if markdown.prefers_markdown(request):  # the same text as /papers/{id}.md (#16)
        return markdown.markdown_response(conn=conn, state=state, key=key)
    paper = repository.get(conn=conn, paper_id=key)
    if paper is None:
        raise NotFound(
            f"No paper {key} is stored here yet; it may be on arXiv at https://arxiv.org/abs/{key}"
        )
    context = {
        "title": paper.title,
        "paper": paper,
        "my_votes": _my_votes(request, conn, [paper]),
        "my_saved": saved_pks(request, conn, [paper]),
        "collections": _collections(request, conn),
        "cite": bibtex.dumps([paper]),
        "similar": _similar(state, conn, paper),
        "alternates": [{"type": "application/json", "title": "JSON", "href": f"/api/papers/{key}"}],
    }
    return render(request, "paper.html", context)
