"""One way to show every error: JSON for programs, a page for people (DESIGN §6.6, #11).

Under /api/ the JSON is Hugging Face's `{"error": "message"}` (#16), which its client library and
scripts written for it read, with the status beside it; elsewhere (feeds, /healthz, forms asked for
JSON) `{"error": {"status": …, "message": …}}`.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from papertrend.errors import AppError, TooManyRequests
from papertrend.web.cookies import secure
from papertrend.web.middleware import security_headers
from papertrend.web.templating import render

log = logging.getLogger("papertrend.web")

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


def wants_json(request: Request) -> bool:
    """API paths answer JSON; elsewhere JSON when the client prefers it to HTML."""
    path = request.url.path
    if path.startswith("/api/") or path in ("/healthz", "/openapi.json"):
        return True
    accept = request.headers.get("accept", "")
    if path.startswith("/feeds/"):
        # Feed readers are programs: their errors come in the JSON the schema documents, and a
        # page only for a browser that asks for one (#12, item 8).
        return "text/html" not in accept
    return "application/json" in accept and "text/html" not in accept


def error_response(
    request: Request, status: int, message: str, details: list[dict[str, Any]] | None = None
) -> Response:
    """The one way errors are shown: `{"error": {...}}` for JSON clients, a page for people."""
    headers = security_headers(request.url.path, https=secure(request))
    if wants_json(request):
        api = request.url.path.startswith("/api/")
        body: dict[str, Any] = (
            {"error": message, "status": status} if api else {"status": status, "message": message}
        )
        if details:
            body["details"] = details
        return JSONResponse(body if api else {"error": body}, status_code=status, headers=headers)
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
    response = error_response(request, exc.status, exc.message)
    if isinstance(exc, TooManyRequests):
        response.headers["Retry-After"] = str(exc.retry_after_s)
    return response


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


def add_error_handlers(app: FastAPI) -> None:
    """Route every error the app can raise to `error_response`."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _server_error)
