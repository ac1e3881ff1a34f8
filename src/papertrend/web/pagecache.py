"""A few seconds' cache of what anonymous visitors get (issue #4: pages under load).

Most traffic is people who are not signed in reading the same listings. Rendering one costs a few
milliseconds of one core; at 50 concurrent connections on two cores that alone puts p95 in the
hundreds of milliseconds. So each web process keeps the pages it rendered for anonymous visitors
for `PAPERTREND_PAGE_CACHE_SECONDS` (what nginx calls micro-caching):

- Only GETs without a session cookie: a signed-in reader sees their own votes, always fresh.
- A browser marked as subscribed (web/cookies.py) sees no subscribe banner (#13): whether it carries
  that mark is part of the key, so there are two versions of a page, never one visitor's.
- A page's forms carry a CSRF token tied to the browser's cookie, so a page is rendered with a
  placeholder of the token's length, and each visitor's own token is put in on the way out (with the
  cookie, for a first visit), exactly as an uncached render would.
- Only 200 answers that set no cookie are kept; any POST or other write through this process empties
  the cache, so a vote or a subscription shows on the next page this process serves. Writes by other
  processes (another web process, a worker's ingest) show once the entry expires.
- Concurrent misses for one page wait for the first render instead of all rendering it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from papertrend.web import cookies

# The pages and API answers worth keeping; everything else (forms, /healthz, static files) passes.
CACHEABLE = ("/", "/papers", "/search", "/api/daily_papers", "/api/trending", "/api/papers", "/feeds/")
MAX_QUERY = 2048  # longer query strings (pasted abstracts) are rendered, not kept
# POSTs that change nothing: every MCP tool only reads (#16). Emptying the cache for each call would
# turn one agent's searches into a miss for every visitor's next page.
READ_ONLY_POSTS = frozenset({"/mcp"})
SAME_SESSION = cookies.SESSION_COOKIE.encode() + b"="
# Exactly as web/banner.py reads it: another value ("=12") is no mark, and must share no entry with it.
SUBSCRIBED = re.compile(rb"(?:^|;)\s*" + re.escape(cookies.SUBSCRIBED_COOKIE.encode()) + rb"=1\s*(?:;|$)")


@dataclass(frozen=True)
class Entry:
    status: int
    headers: list[tuple[bytes, bytes]]  # without content-length: the body's length is set per answer
    body: bytes
    expires: float


def _cacheable_path(path: str) -> bool:
    return path == "/" or any(path.startswith(p) for p in CACHEABLE[1:])


def _header(scope: Scope, name: bytes) -> bytes:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return b""


class PageCache:
    """Pure-ASGI middleware: keep anonymous GET answers for `seconds`, at most `max_entries`."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        seconds: float,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.seconds = seconds
        self.max_entries = max_entries
        self.clock = clock
        self.entries: OrderedDict[tuple[str, bytes, bytes, bool], Entry] = OrderedDict()
        self.filling: dict[tuple[str, bytes, bytes, bool], asyncio.Future[Entry | None]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.seconds <= 0:
            await self.app(scope, receive, send)
            return
        if scope["method"] not in ("GET", "HEAD", "OPTIONS") and scope["path"] not in READ_ONLY_POSTS:
            try:
                await self.app(scope, receive, send)
            finally:
                self.entries.clear()  # this process changed something a kept page may show
            return
        query: bytes = scope.get("query_string", b"")
        if (
            scope["method"] != "GET"
            or not _cacheable_path(scope["path"])
            or len(query) > MAX_QUERY
            or SAME_SESSION in _header(scope, b"cookie")
        ):
            await self.app(scope, receive, send)
            return
        cookie = _header(scope, b"cookie")
        key = (scope["path"], query, _header(scope, b"accept"), SUBSCRIBED.search(cookie) is not None)
        entry = self.entries.get(key)
        if entry is not None and entry.expires > self.clock():
            self.entries.move_to_end(key)
            await self._answer(scope, send, entry)
            return
        pending = self.filling.get(key)
        if pending is not None:
            entry = await asyncio.shield(pending)
            if entry is not None:
                await self._answer(scope, send, entry)
                return
            await self.app(scope, receive, send)
            return
        future: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self.filling[key] = future
        entry = None
        try:
            entry = await self._render(scope, receive, send)
        finally:
            # Waiters answer from the entry, or render for themselves when there is none.
            del self.filling[key]
            future.set_result(entry)
        if entry is not None:
            self.entries[key] = entry
            self.entries.move_to_end(key)
            while len(self.entries) > self.max_entries:
                self.entries.popitem(last=False)
            await self._answer(scope, send, entry)

    async def _render(self, scope: Scope, receive: Receive, send: Send) -> Entry | None:
        """Run the app with the CSRF placeholder; the entry to keep, or None if it answered itself."""
        scope.setdefault("state", {})[cookies.CSRF_PLACEHOLDER_FLAG] = True
        start: Message | None = None
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        try:
            await self.app(scope, receive, capture)
        finally:
            del scope["state"][cookies.CSRF_PLACEHOLDER_FLAG]  # the answer carries the real token
        assert start is not None, "the app sent no response"
        headers = [(k.lower(), v) for k, v in start.get("headers", [])]
        names = {k for k, _ in headers}
        body = b"".join(chunks)
        if start["status"] != 200 or b"set-cookie" in names:
            # Not kept: answer as rendered, with the real token put in all the same.
            await self._answer(scope, send, Entry(start["status"], _without_length(headers), body, 0.0))
            return None
        return Entry(200, _without_length(headers), body, self.clock() + self.seconds)

    async def _answer(self, scope: Scope, send: Send, entry: Entry) -> None:
        body, headers = entry.body, list(entry.headers)
        placeholder = cookies.CSRF_PLACEHOLDER.encode()
        if placeholder in body:
            token, cookie = cookies.csrf_for(Request(scope))
            body = body.replace(placeholder, token.encode())
            if cookie is not None:
                headers.append((b"set-cookie", cookie))
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _without_length(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(k, v) for k, v in headers if k != b"content-length"]
