"""The MCP server over Streamable HTTP at /mcp in the web app, when `PAPERTREND_MCP_HTTP` is on (issue #16).

Stateless and answering plain JSON: any web process can answer any request (`serve --workers N`),
so there is no session to share between processes. Every tool is read-only, so none asks for a
sign-in; instead each client IP gets `PAPERTREND_MCP_PER_IP_PER_MINUTE` requests a minute, counted
in the database like the form limits (ratelimit.py), so all web processes share the count.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import anyio.to_thread
from fastapi import FastAPI
from sqlalchemy.engine import Engine
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from papertrend import ratelimit
from papertrend.db import transaction

if TYPE_CHECKING:
    from mcp.server.transport_security import TransportSecuritySettings

    from papertrend.web.deps import AppState

PATH = "/mcp"
WINDOW = timedelta(minutes=1)
# The SDK's own default is 4 MiB; a tool call is a few hundred bytes, the longest query 2000 characters.
MAX_BODY_BYTES = 64 * 1024


class PerIpLimit:
    """Pure ASGI: count each request per client IP; past the limit, answer 429 and never reach the server."""

    def __init__(
        self, app: ASGIApp, *, engine: Engine, per_minute: int, clock: Callable[[], datetime]
    ) -> None:
        self.app = app
        self.engine = engine
        self.per_minute = per_minute
        self.clock = clock

    def _allow(self, ip: str) -> bool:
        with transaction(self.engine) as conn:
            return ratelimit.allow(
                conn=conn,
                key=ratelimit.rate_key("ip", ip, scope="mcp"),
                limit=self.per_minute,
                window=WINDOW,
                now=self.clock(),
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        client = scope.get("client")
        ip = client[0] if client else "unknown"
        if scope["type"] == "http" and not await anyio.to_thread.run_sync(self._allow, ip):
            body = json.dumps(
                {
                    "error": {
                        "status": 429,
                        "message": f"More than {self.per_minute} MCP requests a minute from this address; "
                        "wait a minute.",
                    }
                }
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"retry-after", b"60")]
            await send({"type": "http.response.start", "status": 429, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)


def allowed_hosts(base_url: str) -> TransportSecuritySettings:
    """Host and Origin headers /mcp answers: the public address's and loopback's (DNS-rebinding guard)."""
    from mcp.server.transport_security import TransportSecuritySettings

    parts = urlsplit(base_url)
    hosts = ["127.0.0.1:*", "localhost:*", "[::1]:*", "127.0.0.1", "localhost", "[::1]"]
    origins = ["http://127.0.0.1:*", "http://localhost:*", "http://[::1]:*"]
    if parts.hostname:
        hosts += [parts.netloc, f"{parts.hostname}:*", parts.hostname]
        origins += [f"{parts.scheme}://{parts.netloc}"]
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True, allowed_hosts=hosts, allowed_origins=origins
    )


def mount(app: FastAPI, state: AppState) -> None:
    """Serve the tools at /mcp when the settings turn it on; otherwise leave the app as it is."""
    settings = state.settings
    if not settings.mcp_http:
        return
    # Imported only when on: the SDK costs each web process about as much import time as the app.
    from mcp.server.streamable_http_manager import StreamableHTTPASGIApp

    from papertrend.mcp.server import build_server
    from papertrend.mcp.tools import Library

    library = Library(
        engine=state.engine,
        search=state.search,
        base_url=settings.base_url,
        trend=state.trend,
        clock=lambda: state.clock(),
    )
    server = build_server(library)
    # Builds the session manager (read back below); the Starlette app it returns is not used, as a
    # route in this app serves /mcp itself, without a redirect from /mcp to /mcp/.
    server.streamable_http_app(
        streamable_http_path=PATH,
        stateless_http=True,
        json_response=True,
        max_request_body_size=MAX_BODY_BYTES,
        transport_security=allowed_hosts(settings.base_url),
    )
    manager = server.session_manager
    endpoint = PerIpLimit(
        StreamableHTTPASGIApp(manager),
        engine=state.engine,
        per_minute=settings.mcp_per_ip_per_minute,
        clock=lambda: state.clock(),
    )
    app.router.routes.append(Route(PATH, endpoint=endpoint, methods=["GET", "POST", "DELETE"]))
    # The session manager runs for the app's lifetime, inside the app's own lifespan.
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: Any) -> AsyncIterator[Any]:
        async with inner(a) as value, manager.run():
            yield value

    app.router.lifespan_context = lifespan
