"""Security headers on every response and one access-log line per request (#4, #11)."""

from __future__ import annotations

import logging
import time

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertrend.web.cookies import secure

log = logging.getLogger("papertrend.web")

# No inline script or style anywhere in our pages, so the policy can forbid both (issue #4).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes from its scripts; only /docs allows inline style, never script.
DOCS_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
DOCS_PATH = "/docs"
DOCS_ASSETS = "/docs-assets"
# Served over https, browsers are told to use nothing else for a year (#12, item 6): the length
# HSTS preload lists ask for. No includeSubDomains: other hosts of the domain are not ours to bind.
HSTS = "max-age=31536000"


def security_headers(path: str, *, https: bool) -> dict[str, str]:
    """Headers every response carries; HSTS when the site is served over https."""
    headers = {
        "content-security-policy": DOCS_CSP if path == DOCS_PATH else CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "strict-origin-when-cross-origin",
        "x-frame-options": "DENY",
        "cross-origin-opener-policy": "same-origin",
        "permissions-policy": "camera=(), microphone=(), geolocation=()",
    }
    if https:
        headers["strict-transport-security"] = HSTS
    return headers


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
        # Over https by the one rule that also makes cookies Secure (web/cookies.py).
        headers = security_headers(path, https=secure(Request(scope)))
        extra = [(k.encode(), v.encode()) for k, v in headers.items()]

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


class HeadAsGet:
    """Answers HEAD as the GET would, without the body (RFC 9110 §9.3.2).

    FastAPI routes a `@router.get` for GET only, so HEAD on `/`, `/healthz`, the feeds and the API
    answered 405 (#12, item 7); monitors and feed readers send HEAD to check a URL cheaply.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def without_body(message: Message) -> None:
            if message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)
