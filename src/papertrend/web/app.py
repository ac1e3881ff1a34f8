"""The web application: `create_app(settings)` assembles pages, JSON API and feeds (issues #4, #11).

Each part lives in its own room: state and dependencies (web/deps.py), templating, errors,
middleware, query parameters, startup (web/lifespan.py); serving is web/server.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from importlib import resources
from pathlib import Path

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine

from papertrend import __version__
from papertrend.config import Settings
from papertrend.db import create_engine
from papertrend.logs import configure_logging
from papertrend.mcp import http as mcp_http
from papertrend.rank import TrendParams
from papertrend.web import (
    account_email,
    accounts,
    api,
    feeds,
    foryou,
    library,
    mailbox,
    markdown,
    outage,
    pages,
    preferences,
    subscribe,
)
from papertrend.web.deps import AppState, refuse_nul
from papertrend.web.errors import add_error_handlers
from papertrend.web.lifespan import lifespan_for
from papertrend.web.middleware import DOCS_ASSETS, DOCS_PATH, HeadAsGet, SecurityAndAccessLog
from papertrend.web.pagecache import PageCache
from papertrend.web.search_holder import SearchHolder
from papertrend.web.templating import make_templates, render

STATIC = Path(__file__).parent / "static"


def create_app(
    settings: Settings,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] | None = None,
) -> FastAPI:
    """The Papertrend web app for these settings; pass `engine` to share one (tests), `clock` to fix time."""
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

    app = FastAPI(
        title="Papertrend",
        version=__version__,
        summary="Research papers: daily listings, trending, search by meaning; shaped like Hugging Face's.",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan_for(state),
        dependencies=[Depends(refuse_nul)],
    )
    app.state.papertrend = state
    # Added first, so it runs inside the access log and security headers: hits are logged and get them.
    app.add_middleware(PageCache, seconds=settings.page_cache_seconds)
    # Inside the access log, which so records HEAD; outside the cache, which so answers it too.
    app.add_middleware(HeadAsGet)
    app.add_middleware(SecurityAndAccessLog)
    add_error_handlers(app)
    # The database restarting is an outage, not a bug: 503 + Retry-After, not 500 (issue #6).
    for outage_error in outage.OUTAGE_ERRORS:
        app.add_exception_handler(outage_error, outage.database_unavailable)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # Swagger UI from a package, not a CDN: /docs works with no network.
    assets = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get(DOCS_PATH, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        return render(request, "docs.html", {"assets": DOCS_ASSETS, "openapi_url": app.openapi_url})

    app.include_router(markdown.router)  # before pages: /papers/{id}.md is not a paper id (#16)
    # Before pages: POST /papers/{id}/save and /not-interested are not paper ids (#13).
    app.include_router(library.router)
    app.include_router(foryou.router)
    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(api.health_router)
    app.include_router(feeds.router)
    app.include_router(subscribe.router)
    app.include_router(preferences.router)
    app.include_router(account_email.router)
    app.include_router(mailbox.router)
    app.include_router(accounts.router)
    mcp_http.mount(app, state)  # /mcp, when PAPERTREND_MCP_HTTP is on (#16)
    return app


def app_from_environment() -> FastAPI:
    """The app for `Settings()` with its own engine: what each `serve --workers N` process runs."""
    settings = Settings()
    configure_logging(settings)
    return create_app(settings)
