"""A reader's library on the site (issue #13): save from any list, collections (rename, delete, move,
share by link), "Your upvotes", import (BibTeX, CSL JSON, pasted ids) and export, and the public
read-only page and Atom feed of a shared collection.

Every form is a plain POST with the CSRF field and a 303 back, so it all works with JavaScript off;
signed-out readers are sent to sign in first. The library service (library/service.py) owns the rules.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection
from starlette.concurrency import run_in_threadpool

from papertrend.accounts.repository import User
from papertrend.accounts.tokens import safe_next
from papertrend.db import reading, transaction
from papertrend.errors import BadRequest
from papertrend.ingest.http import PoliteClient
from papertrend.library import bibtex, csl, imports, service
from papertrend.library import repository as library_repo
from papertrend.library.repository import Collection, Entry
from papertrend.numbers import whole_number
from papertrend.papers import repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.models import Paper
from papertrend.web import feeds
from papertrend.web.cookies import current_user
from papertrend.web.deps import CSRF, AppState, ConnDep, StateDep
from papertrend.web.templating import query_url, render

router = APIRouter(include_in_schema=False)

# A collection page shows this many papers; export and the feed take what they need.
PAGE_PAPERS = 500
FEED_PAPERS = 50

NameF = Annotated[str, Form(max_length=2_000)]
NextF = Annotated[str, Form(alias="next")]


def signed_in(request: Request) -> User | None:
    """The signed-in reader, or None."""
    return current_user(request)


def to_login(request: Request, back: str | None = None) -> RedirectResponse:
    """Send a signed-out reader to sign in, and back here afterwards."""
    here = back or request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(query_url("/login", next=here), status_code=303)


def _papers(conn: Connection, items: list[Entry], limit: int | None = None) -> list[Paper]:
    ids = [e.paper_id for e in (items if limit is None else items[:limit])]
    return repository.get_many(conn=conn, paper_ids=ids)


def saved_pks(request: Request, conn: Connection, papers: list[Paper]) -> frozenset[int]:
    """Which of these papers are in the signed-in reader's collections (none when signed out)."""
    user = current_user(request)
    if user is None or not papers:
        return frozenset()
    return frozenset(library_repo.saved_in(conn=conn, user_id=user.id, paper_pks=[p.pk for p in papers]))


# ------------------------------------------------------------------------------------------ saving


@router.post("/papers/{paper_id:path}/save", dependencies=[CSRF])
def save_paper(
    request: Request,
    state: StateDep,
    paper_id: str,
    collection: Annotated[str, Form()] = "",
    next_: NextF = "",
) -> Response:
    """Save a paper in a collection ("Saved" by default), then go back to where the button was."""
    key = parse_arxiv_id(paper_id).key
    back = safe_next(next_) or f"/papers/{key}"
    user = signed_in(request)
    if user is None:
        return to_login(request, back)
    target = _collection_id(collection)
    with transaction(state.engine) as conn:
        service.save(conn=conn, user_id=user.id, paper_id=key, collection_id=target, now=state.clock())
    return RedirectResponse(back, status_code=303)


def _collection_id(value: str) -> int | None:
    text = value.strip()
    if not text:
        return None
    number = whole_number(text)
    if number is None:
        raise BadRequest("Choose one of your collections.")
    return number


# ------------------------------------------------------------------------------------- the library


def _library_context(conn: Connection, user: User) -> dict[str, Any]:
    mine = service.collections(conn=conn, user_id=user.id)
    return {
        "title": "Your library",
        "collections": mine,
        "n_upvotes": len(service.upvotes(conn=conn, user_id=user.id)),
        "followed": service.followed_authors(conn=conn, user_id=user.id),
        "error": None,
        "field": None,
        "typed": {},
        "report": None,
    }


@router.get("/library", response_class=HTMLResponse)
def library_page(request: Request, conn: ConnDep) -> Response:
    """The reader's collections, "Your upvotes", import and followed authors."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    return render(request, "library.html", _library_context(conn, user))


def _library_error(request: Request, state: AppState, user: User, exc: BadRequest, **typed: str) -> Response:
    """The library page again with the error next to its field and what was typed kept."""
    field = next(iter(typed), None)
    with reading(state.engine) as conn:
        context = _library_context(conn, user)
    context.update(error=exc.message, field=field, typed=typed)
    return render(request, "library.html", context, status=400)


@router.post("/library/collections", dependencies=[CSRF])
def create_collection(request: Request, state: StateDep, name: NameF = "") -> Response:
    """Make a new, private collection."""
    user = signed_in(request)
    if user is None:
        return to_login(request, "/library")
    try:
        with transaction(state.engine) as conn:
            made = service.create_collection(conn=conn, user_id=user.id, name=name, now=state.clock())
    except BadRequest as exc:
        return _library_error(request, state, user, exc, name=name)
    return RedirectResponse(f"/library/{made.id}", status_code=303)


def _collection_context(conn: Connection, user: User, found: Collection, base_url: str) -> dict[str, Any]:
    items = service.entries(conn=conn, user_id=user.id, collection_id=found.id)
    return {
        "title": found.name,
        "collection": found,
        "papers": _papers(conn, items, PAGE_PAPERS),
        "others": [c for c in service.collections(conn=conn, user_id=user.id) if c.id != found.id],
        "share_url": f"{base_url.rstrip('/')}/c/{found.public_token}" if found.public_token else None,
        "error": None,
        "typed": {},
    }


@router.get("/library/{collection_id:int}", response_class=HTMLResponse)
def collection_page(request: Request, conn: ConnDep, state: StateDep, collection_id: int) -> Response:
    """One of the reader's collections: its papers, rename, move, share, export, delete."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    found = service.collection(conn=conn, user_id=user.id, collection_id=collection_id)
    return render(request, "collection.html", _collection_context(conn, user, found, state.settings.base_url))


@router.post("/library/{collection_id:int}/rename", dependencies=[CSRF])
def rename_collection(request: Request, state: StateDep, collection_id: int, name: NameF = "") -> Response:
    """Rename a collection; an invalid name is shown next to the field, as typed."""
    user = signed_in(request)
    if user is None:
        return to_login(request, f"/library/{collection_id}")
    try:
        with transaction(state.engine) as conn:
            service.rename(conn=conn, user_id=user.id, collection_id=collection_id, name=name)
    except BadRequest as exc:
        with reading(state.engine) as conn:
            found = service.collection(conn=conn, user_id=user.id, collection_id=collection_id)
            context = _collection_context(conn, user, found, state.settings.base_url)
        context.update(error=exc.message, typed={"name": name})
        return render(request, "collection.html", context, status=400)
    return RedirectResponse(f"/library/{collection_id}", status_code=303)


@router.post("/library/{collection_id:int}/delete", dependencies=[CSRF])
def delete_collection(request: Request, state: StateDep, collection_id: int) -> Response:
    """Delete a collection (its papers stay in the store and in other collections)."""
    user = signed_in(request)
    if user is None:
        return to_login(request, f"/library/{collection_id}")
    with transaction(state.engine) as conn:
        service.delete(conn=conn, user_id=user.id, collection_id=collection_id)
    return RedirectResponse("/library", status_code=303)


@router.post("/library/{collection_id:int}/share", dependencies=[CSRF])
def share_collection(
    request: Request, state: StateDep, collection_id: int, public: Annotated[str, Form()] = "1"
) -> Response:
    """Share a collection read-only by link (`public=1`) or make it private again (`public=0`)."""
    user = signed_in(request)
    if user is None:
        return to_login(request, f"/library/{collection_id}")
    with transaction(state.engine) as conn:
        if public.strip() == "0":
            service.make_private(conn=conn, user_id=user.id, collection_id=collection_id)
        else:
            service.make_public(conn=conn, user_id=user.id, collection_id=collection_id)
    return RedirectResponse(f"/library/{collection_id}", status_code=303)


@router.post("/library/{collection_id:int}/remove", dependencies=[CSRF])
def remove_paper(
    request: Request, state: StateDep, collection_id: int, paper: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Take a paper out of a collection."""
    user = signed_in(request)
    if user is None:
        return to_login(request, f"/library/{collection_id}")
    with transaction(state.engine) as conn:
        service.unsave(conn=conn, user_id=user.id, paper_id=paper, collection_id=collection_id)
    return RedirectResponse(f"/library/{collection_id}", status_code=303)


@router.post("/library/{collection_id:int}/move", dependencies=[CSRF])
def move_paper(
    request: Request,
    state: StateDep,
    collection_id: int,
    paper: Annotated[str, Form(max_length=200)] = "",
    to: Annotated[str, Form()] = "",
) -> Response:
    """Move a paper to another of the reader's collections."""
    user = signed_in(request)
    if user is None:
        return to_login(request, f"/library/{collection_id}")
    target = _collection_id(to)
    if target is None:
        raise BadRequest("Choose the collection to move the paper to.")
    with transaction(state.engine) as conn:
        service.move(
            conn=conn, user_id=user.id, paper_id=paper, from_id=collection_id, to_id=target, now=state.clock()
        )
    return RedirectResponse(f"/library/{collection_id}", status_code=303)


@router.get("/library/upvotes", response_class=HTMLResponse)
def upvotes_page(request: Request, conn: ConnDep) -> Response:
    """ "Your upvotes": the papers the reader upvoted, newest first."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    found = _papers(conn, service.upvotes(conn=conn, user_id=user.id), PAGE_PAPERS)
    return render(
        request,
        "upvotes.html",
        {"title": "Your upvotes", "papers": found, "my_votes": frozenset(p.pk for p in found)},
    )


# ------------------------------------------------------------------------------- import and export


def _export(conn: Connection, user: User, collection_id: int, kind: str) -> Response:
    found = service.collection(conn=conn, user_id=user.id, collection_id=collection_id)
    items = service.entries(conn=conn, user_id=user.id, collection_id=collection_id)
    papers = _papers(conn, items)
    slug = "".join(ch if ch.isalnum() else "-" for ch in found.name.lower()).strip("-")[:60] or "collection"
    if kind == "bib":
        body, media = bibtex.dumps(papers), "application/x-bibtex; charset=utf-8"
    else:
        body, media = csl.dumps(papers), "application/vnd.citationstyles.csl+json; charset=utf-8"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{slug}.{kind}"'},
    )


@router.get("/library/{collection_id:int}/export.bib")
def export_bibtex(request: Request, conn: ConnDep, collection_id: int) -> Response:
    """A collection as a BibTeX file."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    return _export(conn, user, collection_id, "bib")


@router.get("/library/{collection_id:int}/export.json")
def export_csl(request: Request, conn: ConnDep, collection_id: int) -> Response:
    """A collection as CSL JSON (what Zotero imports)."""
    user = signed_in(request)
    if user is None:
        return to_login(request)
    return _export(conn, user, collection_id, "json")


def fetcher(state: AppState) -> imports.Fetcher:
    """Unknown arXiv ids are fetched through the arXiv API source, politely."""
    settings = state.settings

    def fetch(ids: Any) -> None:
        client = PoliteClient(
            user_agent=settings.user_agent,
            timeout=settings.http_timeout,
            retries=settings.http_retries,
            min_interval=settings.arxiv_api_interval,
        )
        with client:
            imports.arxiv_fetcher(engine=state.engine, client=client, base_url=settings.arxiv_api_url)(ids)

    return fetch


@router.post("/library/import", dependencies=[CSRF])
async def import_page(
    request: Request,
    state: StateDep,
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form(max_length=imports.MAX_IMPORT_BYTES)] = "",
    collection: Annotated[str, Form()] = "",
) -> Response:
    """Import a BibTeX or CSL JSON file, or pasted ids/URLs, and show what happened to every entry."""
    user = signed_in(request)
    if user is None:
        return to_login(request, "/library")
    data = b""
    if file is not None and file.filename:
        # One byte past the limit is enough to refuse it: a huge upload is never held whole.
        data = await file.read(imports.MAX_IMPORT_BYTES + 1)
    if not data:
        data = text.encode()
    try:
        if not data.strip():
            raise BadRequest("Choose a file or paste arXiv ids or URLs to import.")
        target = _collection_id(collection)
        report = await run_in_threadpool(
            imports.import_library,
            engine=state.engine,
            user_id=user.id,
            data=data,
            collection_id=target,
            fetch=fetcher(state),
            now=state.clock(),
        )
    except BadRequest as exc:
        return _library_error(request, state, user, exc, file=file.filename if file and file.filename else "")
    with reading(state.engine) as conn:
        context = _library_context(conn, user)
        papers = repository.get_many(conn=conn, paper_ids=[*report.matched, *report.fetched][:PAGE_PAPERS])
    context.update(report=report, imported=papers)
    return render(request, "library.html", context)


# --------------------------------------------------------------------------------- shared by link


def _shared(conn: Connection, token: str) -> tuple[Collection, list[Paper]]:
    found, items = service.shared(conn=conn, token=token[:200])
    return found, _papers(conn, items, PAGE_PAPERS)


@router.get("/c/{token}.atom")
def shared_feed(conn: ConnDep, state: StateDep, token: str) -> Response:
    """The Atom feed of a collection shared by link, newest addition first."""
    found, papers = _shared(conn, token)
    body = feeds.atom(
        base_url=state.settings.base_url,
        self_path=f"/c/{token}.atom",
        page_path=f"/c/{token}",
        title=f"{found.name} (a shared collection)",
        subtitle=f"{found.n_papers} papers, newest addition first",
        papers=papers[:FEED_PAPERS],
        now=state.clock(),
    )
    return Response(content=body, media_type=feeds.MEDIA_TYPE)


@router.get("/c/{token}", response_class=HTMLResponse)
def shared_page(request: Request, conn: ConnDep, token: str) -> Response:
    """A collection shared by link: read-only, for anyone who has the link."""
    found, papers = _shared(conn, token)
    return render(
        request,
        "shared.html",
        {
            "title": found.name,
            "collection": found,
            "papers": papers,
            "my_saved": saved_pks(request, conn, papers),
            "alternates": [
                {"type": "application/atom+xml", "title": f"{found.name} (Atom)", "href": f"/c/{token}.atom"}
            ],
        },
    )
