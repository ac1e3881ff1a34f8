"""The reader's "For you" page, "not interested", and author pages with Follow (issue #13).

"For you" ranks the papers of the last week with library/foryou.py: the library (saved + upvoted) as
positives, "not interested" as negatives, followed authors and the topics of the reader's email
digest, each pick with its reason; nothing above the calibrated floor shows one line, not padding.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date, timedelta
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from papertrend.accounts import repository as accounts_repo
from papertrend.accounts.repository import User
from papertrend.accounts.tokens import safe_next
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.errors import NotFound
from papertrend.library import foryou, service
from papertrend.library.recommend import Pick
from papertrend.papers import listings, repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.models import Paper
from papertrend.search.bm25 import Tokenizer
from papertrend.search.embedder import query_text
from papertrend.web import feeds
from papertrend.web.deps import CSRF, AppState, ConnDep, StateDep
from papertrend.web.library import saved_pks, signed_in, to_login
from papertrend.web.templating import author_url, render

router = APIRouter(include_in_schema=False)
log = logging.getLogger("papertrend.web")

FOR_YOU = 20
# "For you" looks at the papers listed in the last week of the store (the digest's weekly window).
WINDOW_DAYS = 7
# What every reader's page shares: the week's candidates, the background sample and the keyword
# vectorizer fitted on both. Building it (reading 2,000 random vectors and the week's papers, fitting
# TF-IDF) costs seconds on the 80k store, so a web process keeps one per window for a while; a new
# listing day is a new window (#13).
WINDOW_SECONDS = 600.0
# The keyword model's vectorizer (fitted on 20,000 stored papers, seconds of work) changes little
# from one day's papers to the next: a process refits it every few hours.
KEYWORDS_SECONDS = 6 * 3600.0
AUTHOR_PAPERS = 100


WindowKey = tuple[str, str, int, date]
# One refresh at a time per process: a window takes seconds of CPU to build.
_REFRESHING = threading.Lock()


def _window(state: AppState, conn: Connection, model: str, dim: int, since: date) -> foryou.Window:
    key: WindowKey = ("foryou-window", model, dim, since)
    held = state.caches.get(key)
    if held is None:
        return _build_window(state, conn, key)
    if time.monotonic() - held[0] >= WINDOW_SECONDS and _REFRESHING.acquire(blocking=False):
        # The old window is served while a thread builds the next: built in the request, one reader
        # every WINDOW_SECONDS waited 1.9–2.7 s for a page that otherwise takes 5–6 ms (p95,
        # bench/foryou_page.py --until 2026-06-30, 200-paper library, 80k store).
        threading.Thread(target=_refresh_window, args=(state, key), name="foryou-window", daemon=True).start()
    return held[1]  # type: ignore[no-any-return]


def _refresh_window(state: AppState, key: WindowKey) -> None:
    try:
        with reading(state.engine) as conn:
            _build_window(state, conn, key)
    except Exception:  # the old window keeps serving; the next visit after WINDOW_SECONDS tries again
        log.exception("foryou.window_refresh_failed")
    finally:
        _REFRESHING.release()


def _build_window(state: AppState, conn: Connection, key: WindowKey) -> foryou.Window:
    _, model, dim, since = key
    fitted = state.caches.get(("foryou-keywords",))
    if fitted is None or time.monotonic() - fitted[0] >= KEYWORDS_SECONDS:
        found = foryou.vectorizer(conn=conn, cache=state.settings.data_dir / foryou.KEYWORD_FILE)
        fitted = state.caches[("foryou-keywords",)] = (time.monotonic(), found)
    win = foryou.window(conn=conn, model=model, dim=dim, since=since, tokenizer=Tokenizer(), words=fitted[1])
    state.caches[key] = (time.monotonic(), win)
    return win


def _topics(conn: Connection, user: User) -> subs.Preferences | None:
    found = subs.get_by_email(conn=conn, email=user.email)
    return found.prefs if found is not None and found.status == "confirmed" else None


def picks_for(
    state: AppState, conn: Connection, user: User, *, limit: int = FOR_YOU
) -> tuple[list[Pick], bool]:
    """The reader's picks among the last week's papers, and whether they have anything to learn from."""
    latest = repository.latest_day(conn=conn)
    embedder = state.search.embedder()
    if latest is None or embedder is None:
        return [], False
    since = latest - timedelta(days=WINDOW_DAYS - 1)
    prefs = _topics(conn, user)
    topics = list(prefs.topics) if prefs else []
    vectors = embedder.embed([query_text(t) for t in topics]) if topics else None
    picks = foryou.for_you(
        conn=conn,
        user_id=user.id,
        model=embedder.name,
        dim=embedder.dim,
        since=since,
        limit=limit,
        topics=topics,
        topic_vectors=np.asarray(vectors, dtype=np.float32) if vectors is not None else None,
        exclude=list(prefs.exclude_keywords) if prefs else [],
        categories=list(prefs.categories) if prefs else [],
        shared=_window(state, conn, embedder.name, embedder.dim, since),
    )
    learns = bool(topics) or bool(service.followed_authors(conn=conn, user_id=user.id))
    return picks, learns


@router.get("/for-you", response_class=HTMLResponse)
def for_you_page(request: Request, conn: ConnDep, state: StateDep) -> Response:
    """Recommendations from the reader's library, topics and followed authors, each with why."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    picks, learns = picks_for(state, conn, user)
    papers = repository.get_many(conn=conn, paper_ids=[p.paper_id for p in picks])
    learns = learns or bool(service.collections(conn=conn, user_id=user.id))
    return render(
        request,
        "for_you.html",
        {
            "title": "For you",
            "papers": papers,
            "reasons": {p.paper_id: p.reason for p in picks},
            "my_saved": saved_pks(request, conn, papers),
            "learns": learns,
            "model_missing": state.search.embedder() is None,
        },
    )


@router.post("/papers/{paper_id:path}/not-interested", dependencies=[CSRF])
def not_interested(
    request: Request,
    state: StateDep,
    paper_id: str,
    undo: Annotated[str, Form()] = "",
    next_: Annotated[str, Form(alias="next")] = "",
) -> Response:
    """Mark a paper "not interested" (a negative for recommendations, never shown again), or undo it."""
    key = parse_arxiv_id(paper_id).key
    back = safe_next(next_) or "/for-you"
    user = signed_in(request)
    if user is None:
        return to_login(request, back)
    with transaction(state.engine) as conn:
        if undo.strip() == "1":
            service.undo_not_interested(conn=conn, user_id=user.id, paper_id=key)
        else:
            service.not_interested(conn=conn, user_id=user.id, paper_id=key, now=state.clock())
    return RedirectResponse(back, status_code=303)


# ------------------------------------------------------------------ "Not interested" from an email


def _mail_feedback(
    state: AppState, conn: Connection, token: str, paper_id: str
) -> tuple[subs.Subscription, Paper]:
    sub = subs.verify_link(
        conn=conn, secret=state.settings.secret_key, token=token[:100], purpose="not_interested"
    )
    if sub is None:
        raise NotFound(
            "This link is not valid (it may have been cut short); use the one in your latest email."
        )
    paper = repository.get(conn=conn, paper_id=parse_arxiv_id(paper_id).key)
    if paper is None:
        raise NotFound("No such paper is stored here.")
    return sub, paper


@router.get("/not-interested/{token}/{paper_id:path}", response_class=HTMLResponse)
def mail_not_interested_page(
    request: Request, conn: ConnDep, state: StateDep, token: str, paper_id: str
) -> Response:
    """The digest's "Not interested" link: a page with a button; a mail scanner's GET changes nothing."""
    sub, paper = _mail_feedback(state, conn, token, paper_id)
    context = {
        "title": "Not interested",
        "paper": paper,
        "email": sub.email,
        "done": False,
        "action": request.url.path,
    }
    return render(request, "not_interested.html", context)


@router.post("/not-interested/{token}/{paper_id:path}", response_class=HTMLResponse, dependencies=[CSRF])
def mail_not_interested(request: Request, state: StateDep, token: str, paper_id: str) -> Response:
    """Record "not interested" for the subscriber's account (made for their address if need be)."""
    now = state.clock()
    with transaction(state.engine) as conn:
        sub, paper = _mail_feedback(state, conn, token, paper_id)
        user = accounts_repo.user_for_login(conn=conn, email=sub.email, now=now)
        service.not_interested(conn=conn, user_id=user.id, paper_id=paper.id, now=now)
    context = {
        "title": "Not interested",
        "paper": paper,
        "email": sub.email,
        "done": True,
        "action": request.url.path,
    }
    return render(request, "not_interested.html", context)


# ----------------------------------------------------------------------------------------- authors


def _clean_author(name: str) -> str:
    text = " ".join(name.split())
    if not text or len(text) > service.MAX_AUTHOR_CHARS:
        raise NotFound("No such author.")
    return text


def author_papers(conn: Connection, name: str, limit: int = AUTHOR_PAPERS) -> list[Paper]:
    """The papers one of whose authors is `name` (matched as followed authors are), newest first."""
    key = service.author_key(name)
    found = listings.papers_with_author(conn=conn, name=name)
    return [p for p in found if any(service.author_key(a) == key for a in p.authors)][:limit]


@router.get("/authors/{name:path}.atom")
def author_feed(conn: ConnDep, state: StateDep, name: str) -> Response:
    """An author's papers, newest first, as an Atom feed."""
    text = _clean_author(name)
    body = feeds.atom(
        base_url=state.settings.base_url,
        self_path=author_url(text) + ".atom",
        page_path=author_url(text),
        title=f"Papers by {text}",
        subtitle="Newest first",
        papers=author_papers(conn, text, feeds.FEED_SIZE),
        now=state.clock(),
    )
    return Response(content=body, media_type=feeds.MEDIA_TYPE)


@router.get("/authors/{name:path}", response_class=HTMLResponse)
def author_page(request: Request, conn: ConnDep, name: str) -> Response:
    """An author's papers stored here, newest first, with Follow."""
    text = _clean_author(name)
    papers = author_papers(conn, text)
    user = signed_in(request)
    follows = user is not None and service.author_key(text) in {
        service.author_key(n) for n in service.followed_authors(conn=conn, user_id=user.id)
    }
    context: dict[str, Any] = {
        "title": text,
        "name": text,
        "papers": papers,
        "my_saved": saved_pks(request, conn, papers),
        "follows": follows,
        "alternates": [
            {
                "type": "application/atom+xml",
                "title": f"Papers by {text} (Atom)",
                "href": author_url(text) + ".atom",
            }
        ],
    }
    return render(request, "author.html", context)


@router.post("/authors/{name:path}/follow", dependencies=[CSRF])
def follow_author(
    request: Request, state: StateDep, name: str, follow: Annotated[str, Form()] = "1"
) -> Response:
    """Follow an author (`follow=1`) or stop (`follow=0`); their new papers reach "For you" and the digest."""
    text = _clean_author(name)
    back = author_url(text)
    user = signed_in(request)
    if user is None:
        return to_login(request, back)
    with transaction(state.engine) as conn:
        if follow.strip() == "0":
            service.unfollow(conn=conn, user_id=user.id, name=text)
        else:
            service.follow(conn=conn, user_id=user.id, name=text, now=state.clock())
    return RedirectResponse(back, status_code=303)
