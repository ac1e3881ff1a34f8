"""Application errors: each carries the HTTP status it maps to, so one handler can render any of them."""

from __future__ import annotations


class AppError(Exception):
    """Base error with a user-facing message and an HTTP status."""

    status: int = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(AppError):
    status = 400


class Forbidden(AppError):
    status = 403


class NotFound(AppError):
    status = 404


class TooManyRequests(AppError):
    """A rate limit was reached; `retry_after_s` goes out as the Retry-After header (#11, #12)."""

    status = 429

    def __init__(self, message: str, *, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class InvalidPaperId(BadRequest):
    """A string that is no arXiv identifier in any form we accept."""


class SourceError(AppError):
    """An upstream source failed: HTTP error, timeout, or a payload we cannot read."""

    status = 502
