"""A polite HTTP client for upstream APIs: descriptive User-Agent, timeouts, a minimum interval
between requests, retries with exponential backoff, and `Retry-After` honoured (issue #2)."""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from papertrend.errors import SourceError
from papertrend.numbers import whole_number

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Never sleep longer than this on one Retry-After: a misbehaving header must not hang a run for a day.
MAX_RETRY_AFTER = 600.0


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    seconds = whole_number(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class PoliteClient:
    """GET with the manners arXiv and Hugging Face ask for. One instance per source run."""

    def __init__(
        self,
        *,
        user_agent: str,
        timeout: float = 30.0,
        retries: int = 4,
        min_interval: float = 0.0,
        backoff: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(
            headers={"User-Agent": user_agent},
            timeout=timeout,
            follow_redirects=True,
            transport=transport,
        )
        self.retries = retries
        self.min_interval = min_interval
        self.backoff = backoff
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> PoliteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wait_turn(self) -> None:
        if self._last is not None and self.min_interval > 0:
            remaining = self.min_interval - (self._clock() - self._last)
            if remaining > 0:
                self._sleep(remaining)
        self._last = self._clock()

    def get(
        self, url: str, *, params: Mapping[str, Any] | None = None, ok_statuses: frozenset[int] = frozenset()
    ) -> httpx.Response:
        """GET url; retry timeouts, 429 and 5xx; raise SourceError naming the URL when it gives up.

        Statuses in `ok_statuses` (e.g. arXiv's 400 error feed) are returned for the caller to read.
        """
        attempt = 0
        while True:
            self._wait_turn()
            try:
                resp = self._client.get(url, params=params)
            except httpx.TimeoutException:
                problem = "timed out"
                wait = None
            except httpx.TransportError as exc:
                problem = f"connection failed ({exc.__class__.__name__}: {exc})"
                wait = None
            else:
                if resp.status_code < 400 or resp.status_code in ok_statuses:
                    return resp
                problem = f"HTTP {resp.status_code}"
                if resp.status_code not in RETRY_STATUSES:
                    raise SourceError(f"{resp.request.url}: {problem} {resp.reason_phrase}")
                wait = parse_retry_after(resp.headers.get("Retry-After"))
            target = httpx.URL(url, params=params) if params else url
            if attempt >= self.retries:
                raise SourceError(f"{target}: {problem}; gave up after {attempt + 1} tries")
            if wait is None:
                # Exponential backoff with jitter so that several workers do not retry in step.
                wait = self.backoff * (2**attempt) * (0.5 + random.random())
            wait = min(wait, MAX_RETRY_AFTER)
            log.warning(
                "%s: %s; retrying in %.1fs (try %d of %d)",
                target,
                problem,
                wait,
                attempt + 2,
                self.retries + 1,
            )
            self._sleep(wait)
            attempt += 1
