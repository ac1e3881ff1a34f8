"""The daily email (issue #5): subscriptions, composing editions, rendering, the outbox, the sender.

Rooms: subscriptions (sign-up, confirm, preferences), schedule (when editions are due), compose
(which papers), ranking ("For you"), render (the message), outbox (the states and recovery), sender
(the sending loop), run (a whole `digest run`), job (the worker's), repository (the SQL), records and
tables. Mail itself is papertrend/mail/.

`digest_settings(settings)` gives this package's settings as one small typed record.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from papertrend.config import Settings


def _default(name: str) -> Any:
    """The default of a setting, as `Settings` defines it (issue #11: defined once, there)."""
    return field(default=Settings.model_fields[name].default)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """What the digest and the mailer need beyond the core settings (defaults: `Settings`'s)."""

    mail_from: str = _default("mail_from")
    mail_rate: float = _default("mail_rate")
    mail_concurrency: int = _default("mail_concurrency")
    mail_timeout: float = _default("mail_timeout")
    mail_max_attempts: int = _default("mail_max_attempts")
    mail_bounce_after: int = _default("mail_bounce_after")
    mail_retry_seconds: float = _default("mail_retry_seconds")
    mail_lease_seconds: float = _default("mail_lease_seconds")
    digest_interval_minutes: int = _default("digest_interval_minutes")
    digest_trending: int = _default("digest_trending")
    digest_for_you: int = _default("digest_for_you")
    subscribe_per_ip_per_hour: int = _default("subscribe_per_ip_per_hour")
    subscribe_per_address_per_hour: int = _default("subscribe_per_address_per_hour")


def digest_settings(settings: Settings) -> DigestSettings:
    """This package's settings, taken from `Settings` (PAPERTREND_MAIL_*, PAPERTREND_DIGEST_*, …)."""
    return DigestSettings(**{f.name: getattr(settings, f.name) for f in fields(DigestSettings)})
