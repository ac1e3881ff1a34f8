"""503 while the database is away (issue #6, item 5): a restart or failover is an outage, not a bug.

Connections fail fast (`db.PG_CONNECT_TIMEOUT_S`; a refused connection at once), so a request during
the outage ends here within seconds instead of hanging, and the pool's pre-ping reconnects by itself
once the server is back. Clients are told when to retry, and the log gets one line, not a traceback
per request.
"""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import exc as sa_exc

from papertrend.web.errors import error_response

log = logging.getLogger("papertrend.web")

RETRY_AFTER_S = 5
MESSAGE = "The database is unavailable for a moment (a restart?); please try again in a few seconds."

# What SQLAlchemy raises when the server refuses or drops connections, is shutting down, or the pool
# has no connection to give: psycopg's OperationalError family (and SQLite's "database is locked")
# and the pool's own timeout.
OUTAGE_ERRORS: tuple[type[Exception], ...] = (sa_exc.OperationalError, sa_exc.TimeoutError)


async def database_unavailable(request: Request, exc: Exception) -> Response:
    """Answer 503 with Retry-After, as HTML or JSON like every other error."""
    reason = (str(getattr(exc, "orig", None) or exc).splitlines() or [type(exc).__name__])[0][:200]
    log.warning("database_unavailable", extra={"path": request.url.path, "error": reason})
    response = error_response(request, 503, MESSAGE)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
