"""What a web process does as it starts and stops: report, sync the keyword index, probe the network."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import FastAPI

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.papers import repository
from papertrend.web.deps import AppState

log = logging.getLogger("papertrend.web")


def offline_probe(settings: Settings) -> None:
    """Say in the log whether the sources can be reached; the service runs either way."""
    host = urlsplit(settings.hf_base_url).hostname or "huggingface.co"
    try:
        socket.getaddrinfo(host, 443)
        log.info("network.ok", extra={"host": host})
    except OSError as exc:
        log.warning(
            "network.offline: sources cannot be reached; serving what is stored. Load the bundled "
            "sample with `papertrend ingest sample`, or a file with `papertrend ingest jsonl FILE`",
            extra={"host": host, "error": str(exc)},
        )


def start_keyword_index(state: AppState) -> None:
    """Keep the host's keyword index in sync from a thread, from now on, not inside searches (#15).

    Tests leave it to each search, which syncs first when papers changed (their changes and searches
    follow each other at once).
    """
    if state.settings.env != "test":
        state.search.words.start(engine=state.engine)


def startup_report(state: AppState) -> None:
    """One log line: how many papers and the latest day, or that the database cannot be reached."""
    try:
        with reading(state.engine) as conn:
            total = repository.count(conn=conn)
            latest = repository.latest_day(conn=conn)
    except Exception as exc:
        log.error("startup.database_unreachable", extra={"error": str(exc)})
        return
    log.info("startup", extra={"papers": total, "latest_day": str(latest) if latest else None})
    if total == 0:
        log.warning(
            "startup.no_papers: load the bundled sample (no network needed) with `papertrend ingest sample`, "
            "or a file with `papertrend ingest jsonl FILE`"
        )


def lifespan_for(state: AppState) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: startup work, then the engine disposed at shutdown if the app owns it."""
    settings = state.settings

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Page handlers run on anyio's worker threads (40 by default); on a few cores more threads
        # only queue for the GIL while holding database connections.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.web_threads
        startup_report(state)
        start_keyword_index(state)
        if settings.env != "test":
            # The model and the vector index load beside the first requests, not inside one (#15: the
            # first search after a start used to build the index itself, 22.8 s at 80k); /healthz
            # answers 503 "warming" until they are ready.
            threading.Thread(target=state.search.warm, name="search-warm", daemon=True).start()
        if settings.env != "test":
            threading.Thread(
                target=offline_probe, args=(settings,), name="network-probe", daemon=True
            ).start()
        yield
        if state.owns_engine:
            state.engine.dispose()

    return lifespan
