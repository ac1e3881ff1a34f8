"""The daily email (issue #5): subscriptions, composing editions, rendering, the outbox, the mailer.

`digest_settings(settings)` gives this package's settings as one small typed record.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from papertrend.config import Settings


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """What the digest and the mailer need beyond the core settings."""

    mail_from: str = "Papertrend <papertrend@localhost>"
    mail_rate: float = 100.0  # messages per second for one run; 0 means no limit
    mail_concurrency: int = 2  # SMTP connections sending at once
    mail_timeout: float = 30.0
    mail_max_attempts: int = 8  # temporary failures (4xx, timeouts) before an edition is `failed`
    mail_bounce_after: int = 2  # permanent (5xx) recipient rejections before `bounced` and suppressed
    mail_retry_seconds: float = 300.0  # first backoff; doubles with each attempt, capped at 6 hours
    mail_lease_seconds: float = 600.0
    digest_interval_minutes: int = 5
    digest_trending: int = 10
    digest_for_you: int = 8
    subscribe_per_ip_per_hour: int = 20
    subscribe_per_address_per_hour: int = 3


def digest_settings(settings: Settings) -> DigestSettings:
    """This package's settings, taken from `Settings` (PAPERTREND_MAIL_*, PAPERTREND_DIGEST_*, …)."""
    return DigestSettings(**{f.name: getattr(settings, f.name) for f in fields(DigestSettings)})
