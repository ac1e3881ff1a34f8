"""A real HTTP server on 127.0.0.1 that replays recorded responses, so source clients are tested with
their real HTTP stack, parser and error handling (issue #2).

Routes match on path and, optionally, on a subset of query parameters. Each route holds a queue of
responses: the last one repeats, so `[503-with-Retry-After, 200]` means "busy once, then fine".
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (a server that hangs)


@dataclass
class Route:
    path: str
    query: dict[str, str]
    replies: list[Reply]
    hits: int = 0


@dataclass
class Seen:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    at: float


class ReplayServer:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.requests: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = dict(parse_qsl(parts.query, keep_blank_values=True))
                with server._lock:
                    server.requests.append(Seen(parts.path, query, dict(self.headers), time.monotonic()))
                    reply = server._match(parts.path, query)
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        # A short poll interval makes shutdown() return quickly after each test.
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def _match(self, path: str, query: dict[str, str]) -> Reply:
        for route in self.routes:
            if route.path == path and all(query.get(k) == v for k, v in route.query.items()):
                reply = route.replies[min(route.hits, len(route.replies) - 1)]
                route.hits += 1
                return reply
        return Reply(b"no route recorded for this request", status=404)

    def add(
        self, path: str, *replies: Reply | bytes | str | Path, query: dict[str, str] | None = None
    ) -> Route:
        """Serve `replies` in turn (the last repeats) for GET path?query."""
        made = []
        for r in replies:
            if isinstance(r, Path):
                r = Reply(r.read_bytes())
            elif isinstance(r, str):
                r = Reply(r.encode())
            elif isinstance(r, bytes):
                r = Reply(r)
            made.append(r)
        route = Route(path, query or {}, made)
        # Most specific first, so a route with query conditions wins over a bare path.
        self.routes.append(route)
        self.routes.sort(key=lambda rt: -len(rt.query))
        return route

    def start(self) -> ReplayServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
