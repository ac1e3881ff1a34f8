"""The web application: `create_app(settings)` wires pages, JSON API and feeds (issue #4).

All state lives on `app.state.papertrend` (an `AppState`), never in module globals, so tests build as
many independent apps as they like. Routes get what they need through named dependencies
(`ConnDep`, `StateDep`, …; DESIGN §6.4). One error handler renders every error as HTML or JSON (§6.6).
"""

from __future__ import annotations

import json
import logging
import re
import socket
import sys
import threading
import time
import traceback
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast
from urllib.parse import urlencode, urlsplit

import anyio
import anyio.to_thread
import jinja2
import markupsafe
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertrend import __version__
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.errors import AppError, BadRequest
from papertrend.papers import repository
from papertrend.papers.listings import parse_day
from papertrend.papers.models import Paper
from papertrend.rank import TrendParams
from papertrend.search import keyword
from papertrend.search.bm25 import MemoryIndex
from papertrend.search.types import Filters, Hit, Mode, Sort
from papertrend.web.cookies import CSRF_FIELD, csrf_token, current_user, give_csrf_cookie, require_csrf
from papertrend.web.pagecache import PageCache

if TYPE_CHECKING:
    from papertrend.search.service import Searcher

log = logging.getLogger("papertrend.web")

HERE = Path(__file__).parent

# No inline script or style anywhere in our pages, so the policy can forbid both (issue #4).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes from its scripts; only /docs allows inline style, never script.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATH = "/docs"
DOCS_ASSETS = "/docs-assets"


# ---------------------------------------------------------------------------------------------- logging


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, event, and the record's extra fields."""

    # uvicorn adds `color_message`, an ANSI-coloured copy of the message: noise in a log line.
    _STANDARD = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in self._STANDARD})
        if record.exc_info:
            out["exc"] = "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """One line per event for people: time, level, logger, event, then key=value extras."""

    def format(self, record: logging.LogRecord) -> str:
        extras = " ".join(f"{k}={v}" for k, v in vars(record).items() if k not in JsonFormatter._STANDARD)
        ts = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        line = f"{ts} {record.levelname:<7} {record.name}: {record.getMessage()}"
        line = f"{line} {extras}" if extras else line
        if record.exc_info:
            line += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
        return line


def configure_logging(settings: Settings, *, level: int = logging.INFO) -> None:
    """Root logging to stderr: JSON lines when PAPERTREND_LOG_JSON=1, readable lines otherwise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_json else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# ------------------------------------------------------------------------------------------------ state


# A web process looks for new vectors at most this often (search/vectors.py says why).
VECTOR_RECHECK_SECONDS = 2.0


class SearchHolder:
    """Builds the Searcher on the first search, so pages that never search never load a model.

    If the model cannot load (not installed, no network for a download), searches fall back to
    keyword mode and say so, instead of failing every search page.
    """

    def __init__(self, *, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._searcher: Searcher | None = None
        self.unavailable: str | None = None
        # Keyword ranking from memory past this many papers (search/bm25.py), model or not.
        self.words = MemoryIndex(
            engine=engine, threshold=settings.keyword_memory_threshold, weights=keyword.DEFAULT_WEIGHTS
        )
        # Guards loading the model, once; searches then run side by side (the vector index
        # serialises its own refreshes).
        self._lock = threading.Lock()

    def _get(self) -> Searcher | None:
        if self._searcher is not None or self.unavailable is not None:
            return self._searcher
        with self._lock:
            return self._load()

    def _load(self) -> Searcher | None:
        if self._searcher is None and self.unavailable is None:
            try:
                from papertrend.search.embedder import get_embedder
                from papertrend.search.service import Searcher

                embedder = get_embedder(self.settings.embedding_model, device=self.settings.embedding_device)
                self._searcher = Searcher(
                    engine=self.engine,
                    embedder=embedder,
                    index_dir=self.settings.data_dir / "index",
                    ann_threshold=self.settings.ann_threshold,
                    words=self.words,
                    recheck_seconds=VECTOR_RECHECK_SECONDS,
                )
                log.info("search.model_loaded", extra={"model": embedder.name})
            except Exception as exc:  # whatever the model's package raises, pages must keep working
                self.unavailable = f"{type(exc).__name__}: {exc}"
                log.warning("search.model_unavailable", exc_info=exc, extra={"error": self.unavailable})
        return self._searcher

    def search(
        self, *, query: str, mode: Mode, limit: int, filters: Filters, sort: Sort
    ) -> tuple[list[Hit], Mode]:
        """Best-first hits and the mode that produced them (keyword when the model is unavailable)."""
        if mode != "keyword":
            searcher = self._get()
            if searcher is not None:
                return searcher.search(query=query, mode=mode, limit=limit, filters=filters, sort=sort), mode
        # Keyword search needs no model: read it straight from the index.
        depth = max(limit, 100) if sort == "date" else limit
        with reading(self.engine) as conn:
            hits = keyword.search(conn=conn, query=query, limit=depth, filters=filters, memory=self.words)
            if sort == "date":
                found = {
                    p.id: p for p in repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
                }
                order = {h.paper_id: i for i, h in enumerate(hits)}
                hits = sorted(
                    (h for h in hits if h.paper_id in found),
                    key=lambda h: (paper_day(found[h.paper_id]) or date.min, -order[h.paper_id]),
                    reverse=True,
                )
        return hits[:limit], "keyword"

    def similar(self, *, paper_id: str, limit: int) -> list[Hit]:
        """Papers nearest in meaning; [] when the model is unavailable."""
        searcher = self._get()
        return searcher.similar(paper_id=paper_id, limit=limit) if searcher is not None else []


@dataclass
class AppState:
    """Everything a request may need, built once per app."""

    settings: Settings
    engine: Engine
    templates: jinja2.Environment
    search: SearchHolder
    trend: TrendParams
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    owns_engine: bool = False


def get_state(request: Request) -> AppState:
    """The app's state."""
    return cast(AppState, request.app.state.papertrend)


StateDep = Annotated[AppState, Depends(get_state)]


def get_conn(state: StateDep) -> Iterator[Connection]:
    """A read connection for the request; pages never write (GET changes nothing)."""
    with reading(state.engine) as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_settings(state: StateDep) -> Settings:
    """The app's settings."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]

# Every route that changes data from a form lists this in `dependencies=[CSRF]` (issue #4).
CSRF = Depends(require_csrf)


# ------------------------------------------------------------------------------------ template helpers


def paper_day(p: Paper) -> date | None:
    """The day a paper is dated by: listing day, else HF daily day, else publication."""
    return p.listed_on or p.hf_daily_on or (p.published_at.date() if p.published_at else None)


def votes_of(p: Paper) -> int:
    """Votes shown and ranked: Hugging Face upvotes plus upvotes here (issue #4)."""
    return (p.hf_upvotes or 0) + p.own_votes


@jinja2.pass_context
def csrf_field(ctx: jinja2.runtime.Context) -> markupsafe.Markup:
    """The hidden CSRF input every POST form carries (web/cookies.py); one definition for all forms."""
    token = ctx.get("csrf_token", "")
    return markupsafe.Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s); sources are not trusted to keep `javascript:` out of links."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def pdf_url(p: Paper) -> str:
    """The paper's PDF on arXiv."""
    return safe_url(p.pdf_url) or f"https://arxiv.org/pdf/{p.id}"


def authors_short(names: list[str], keep: int = 3) -> str:
    """The first authors and how many more."""
    if len(names) <= keep + 1:
        return ", ".join(names)
    return f"{', '.join(names[:keep])} and {len(names) - keep} more"


def snippet(text: str, chars: int = 320) -> str:
    """The first `chars` characters, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0].rstrip(",.;:") + " …"


def query_url(path: str, **params: object) -> str:
    """`path?…` with the parameters that are not None or empty."""
    kept = {k.rstrip("_"): v for k, v in params.items() if v not in (None, "", ())}
    return f"{path}?{urlencode(kept, doseq=True)}" if kept else path


def make_templates() -> jinja2.Environment:
    """Jinja2 with autoescape on for every template: all text from sources is escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(authors_short=authors_short, snippet=snippet, safe_url=safe_url)
    env.globals.update(
        paper_day=paper_day,
        votes_of=votes_of,
        csrf_field=csrf_field,
        pdf_url=pdf_url,
        query_url=query_url,
        version=__version__,
    )
    return env


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page; every page gets the search box text, its alternate links, the signed-in user
    and the CSRF token of its forms (setting the browser's CSRF cookie when it has none)."""
    state = get_state(request)
    try:
        user = current_user(request)
    except SQLAlchemyError:  # a page (an error page above all) still renders with the database down
        user = None
    base: dict[str, Any] = {
        "q": "",
        "alternates": [],
        "request_path": request.url.path,
        "request_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "base_url": state.settings.base_url,
        "user": user,
        "my_votes": frozenset(),
        "csrf_token": csrf_token(request),
    }
    html = state.templates.get_template(name).render({**base, **context})
    response = HTMLResponse(html, status_code=status, headers=headers)
    give_csrf_cookie(request, response)
    return response


# ---------------------------------------------------------------------------------------------- errors


def wants_json(request: Request) -> bool:
    """API paths answer JSON; elsewhere JSON when the client prefers it to HTML."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    410: "Link no longer valid",
    422: "Invalid parameters",
    429: "Too many attempts",
    503: "Temporarily unavailable",
}


def error_response(
    request: Request, status: int, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    """The one way errors are shown: `{"error": {...}}` for JSON clients, a page for people."""
    headers = security_headers(request.url.path)
    if wants_json(request):
        body: dict[str, Any] = {"status": status, "message": message}
        if details:
            body["details"] = details
        return JSONResponse({"error": body}, status_code=status, headers=headers)
    try:
        return render(
            request,
            "error.html",
            {
                "status": status,
                "title": _TITLES.get(status, "Something went wrong"),
                "message": message,
                "details": details or [],
            },
            status=status,
            headers=headers,
        )
    except Exception:  # the error page itself failed: still answer, plainly
        log.exception("error_page_failed")
        return Response(f"{status} {message}\n", status_code=status, media_type="text/plain", headers=headers)


async def _app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return error_response(request, exc.status, exc.message)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    message = exc.detail if isinstance(exc.detail, str) else _TITLES.get(exc.status_code, "Error")
    if exc.status_code == 404 and message == "Not Found":
        message = f"There is no page at {request.url.path}."
    response = error_response(request, exc.status_code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # Only location and message: `input` and `ctx` may hold values that are not JSON (or are huge).
    details = [
        {"loc": [str(part) for part in err.get("loc", ())], "msg": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    where = ", ".join(".".join(d["loc"][1:] or d["loc"]) + f": {d['msg']}" for d in details)
    return error_response(request, 422, f"Invalid parameters — {where}", details)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("request_failed", exc_info=exc, extra={"method": request.method, "path": request.url.path})
    return error_response(request, 500, "Something went wrong on our side; it has been logged.")


# ------------------------------------------------------------------------------------------ middleware


def security_headers(path: str) -> dict[str, str]:
    """Headers every response carries."""
    return {
        "content-security-policy": DOCS_CSP if path == DOCS_PATH else CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }


class SecurityAndAccessLog:
    """Adds the security headers and writes one log line per request (pure ASGI: no buffering)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        path: str = scope.get("path", "")
        status = 500
        extra = [(k.encode(), v.encode()) for k, v in security_headers(path).items()]

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in present)]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": path,
                    "status": status,
                    "ms": round((time.perf_counter() - start) * 1000, 1),
                },
            )


# ------------------------------------------------------------------------------------------------- app


def _offline_probe(settings: Settings) -> None:
    """Say in the log whether the sources can be reached; the service runs either way."""
    host = urlsplit(settings.hf_base_url).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        log.info("network.ok", extra={"host": host})
    except OSError as exc:
        log.warning(
            "network.offline: sources cannot be reached; serving what is stored. "
            "Load papers from a file with `papertrend ingest jsonl FILE`",
            extra={"host": host, "error": str(exc)},
        )


def _start_keyword_index(state: AppState) -> None:
    """Build the in-memory keyword index now if the corpus calls for one, not on the first search."""
    try:
        with reading(state.engine) as conn:
            state.search.words.ready(conn=conn)
    except SQLAlchemyError as exc:
        log.warning("startup.keyword_index_not_started", extra={"error": str(exc)})


def _startup_report(state: AppState) -> None:
    try:
        with reading(state.engine) as conn:
            total = repository.count(conn=conn)
            latest = repository.latest_day(conn=conn)
    except Exception as exc:
        log.error("startup.database_unreachable", extra={"error": str(exc)})
        return
    log.info("startup", extra={"papers": total, "latest_day": str(latest) if latest else None})
    if total == 0:
        log.warning("startup.no_papers: load some with `papertrend ingest jsonl FILE`")


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The Papertrend web app for these settings; pass `engine` to share one (tests), `clock` to fix time."""
    # Routers import the dependencies above, so they are imported here, once this module exists.
    from papertrend.mcp import http as mcp_http
    from papertrend.web import accounts, api, feeds, markdown, outage, pages, subscribe

    own = engine is None
    eng = engine if engine is not None else create_engine(settings.database_url)
    state = AppState(
        settings=settings,
        engine=eng,
        templates=make_templates(),
        search=SearchHolder(settings=settings, engine=eng),
        trend=TrendParams(
            gravity=settings.trending_gravity,
            offset_hours=settings.trending_offset_hours,
        ),
        owns_engine=own,
    )
    if clock is not None:
        state.clock = clock

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Page handlers run on anyio's worker threads (40 by default); on a few cores more threads
        # only queue for the GIL while holding database connections.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        _startup_report(state)
        _start_keyword_index(state)
        if settings.env != "test":
            threading.Thread(
                target=_offline_probe, args=(settings,), name="network-probe", daemon=True
            ).start()
        yield
        if state.owns_engine:
            state.engine.dispose()

    app = FastAPI(
        title="Papertrend",
        version=__version__,
        summary="Research papers: daily listings, trending, search by meaning; shaped like Hugging Face's.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.papertrend = state
    # Added first, so it runs inside the access log and security headers: hits are logged and get them.
    app.add_middleware(PageCache, seconds=settings.page_cache_seconds)
    app.add_middleware(SecurityAndAccessLog)
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
    # The database restarting is an outage, not a bug: 503 + Retry-After, not 500 (issue #6).
    for outage_error in outage.OUTAGE_ERRORS:
        app.add_exception_handler(outage_error, outage.database_unavailable)

    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Swagger UI from a package, not a CDN: /docs works with no network.
    assets = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return render(request, "docs.html", {"assets": DOCS_ASSETS, "openapi_url": app.openapi_url})

    app.include_router(markdown.router)  # before pages: /papers/{id}.md is not a paper id (#16)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(api.health_router)
    app.include_router(feeds.router)
    app.include_router(subscribe.router)
    app.include_router(accounts.router)
    mcp_http.mount(app, state)  # /mcp, when PAPERTREND_MCP_HTTP is on (#16)
    return app


def app_from_environment() -> FastAPI:
    """The app for `Settings()` with its own engine: what each `serve --workers N` process runs."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)


def run_server(
    settings: Settings, host: str = "127.0.0.1", port: int = 8000, *, worker: bool = True, workers: int = 1
) -> None:
    """Migrate the database, then serve the app with uvicorn until interrupted.

    With `worker`, the periodic jobs (ingest, embed) run in a thread of this process: what a single
    machine needs. Larger installs run `papertrend worker` processes and serve with `--no-worker`.
    With `workers` > 1, uvicorn forks that many web processes sharing the port (one Python process
    uses one core for pages); the jobs stay in this, the supervising, process.
    """
    import uvicorn

    from papertrend import migrate

    configure_logging(settings)
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    log.info(
        "serve",
        extra={"url": f"http://{host}:{port}", "database": engine.url.render_as_string(), "workers": workers},
    )
    stop = threading.Event()
    if worker:
        from papertrend.worker import default_jobs, run_loop, worker_leases

        jobs = default_jobs(settings=settings, engine=engine)
        leases = worker_leases(settings=settings, engine=engine)
        threading.Thread(
            target=run_loop, args=(jobs,), kwargs={"stop": stop, "leases": leases}, name="worker", daemon=True
        ).start()
    # Our middleware writes the access log (one line per request, JSON when asked); uvicorn's
    # would repeat it in another format. log_config=None keeps our handlers.
    options: dict[str, Any] = {"log_config": None, "access_log": False, "proxy_headers": True}
    try:
        if workers > 1:
            # Each process builds its app from the same environment the settings came from.
            uvicorn.run(
                "papertrend.web.app:app_from_environment",
                factory=True,
                workers=workers,
                host=host,
                port=port,
                **options,
            )
        else:
            app = create_app(settings, engine=engine)
            app.state.papertrend.owns_engine = True
            uvicorn.run(app, host=host, port=port, **options)
    finally:
        stop.set()


# ------------------------------------------------------------------------------------- shared parsing

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
