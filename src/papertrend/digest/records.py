"""Records the digest's rooms pass each other: a subscription and its preferences, an edition's papers,
a claimed edition, a paper's filter text (issue #5; one place since issue #11)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

Status = Literal["pending", "confirmed", "unsubscribed", "bounced"]
Cadence = Literal["daily", "weekly"]


@dataclass(frozen=True, slots=True)
class Preferences:
    """What a subscriber chose: topics and filters, cadence, and when mail arrives."""

    topics: tuple[str, ...] = ()
    include_keywords: tuple[str, ...] = ()
    exclude_keywords: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    cadence: Cadence = "daily"
    send_hour: int = 8
    send_weekday: int = 0  # weekly editions: 0 = Monday … 6 = Sunday
    timezone: str = "UTC"
    paused: bool = False
    # Whether "For you" learns from the library of the account with this address (#13).
    use_library: bool = True


@dataclass(frozen=True, slots=True)
class Subscription:
    """One stored subscription."""

    id: int
    email: str
    email_key: str
    status: Status
    prefs: Preferences
    link_salt: str
    created_at: datetime
    confirmed_at: datetime | None = None
    pending_until: datetime | None = None
    left_at: datetime | None = None
    consent: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.prefs.timezone)


def prefs_values(prefs: Preferences) -> dict[str, Any]:
    """The `subscriptions` columns of a subscriber's preferences."""
    return {
        "topics": list(prefs.topics),
        "include_keywords": list(prefs.include_keywords),
        "exclude_keywords": list(prefs.exclude_keywords),
        "categories": list(prefs.categories),
        "cadence": prefs.cadence,
        "send_hour": prefs.send_hour,
        "send_weekday": prefs.send_weekday,
        "timezone": prefs.timezone,
        "paused": prefs.paused,
        "use_library": prefs.use_library,
    }


def from_row(row: Mapping[Any, Any]) -> Subscription:
    """A Subscription from a `subscriptions` row."""
    return Subscription(
        id=int(row["id"]),
        email=row["email"],
        email_key=row["email_key"],
        status=row["status"],
        prefs=Preferences(
            topics=tuple(row["topics"] or ()),
            include_keywords=tuple(row["include_keywords"] or ()),
            exclude_keywords=tuple(row["exclude_keywords"] or ()),
            categories=tuple(row["categories"] or ()),
            cadence=row["cadence"],
            send_hour=int(row["send_hour"]),
            send_weekday=int(row["send_weekday"]),
            timezone=row["timezone"],
            paused=bool(row["paused"]),
            use_library=bool(row["use_library"]),
        ),
        link_salt=row["link_salt"],
        created_at=row["created_at"],
        confirmed_at=row["confirmed_at"],
        pending_until=row["pending_until"],
        left_at=row["left_at"],
        consent=row["consent"],
    )


@dataclass(frozen=True, slots=True)
class Composed:
    """The papers of one edition: trending ids, and (id, topic) pairs for "For you"."""

    trending: tuple[str, ...] = ()
    for_you: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.trending and not self.for_you

    @property
    def paper_ids(self) -> list[str]:
        return [*self.trending, *(pid for pid, _ in self.for_you)]

    def to_json(self) -> dict[str, Any]:
        return {"trending": list(self.trending), "for_you": [list(p) for p in self.for_you]}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Composed:
        return cls(
            trending=tuple(value.get("trending", ())),
            for_you=tuple((str(p), str(t)) for p, t in value.get("for_you", ())),
        )


@dataclass(frozen=True, slots=True)
class Claimed:
    """One edition a sender holds: what it needs to render and send it."""

    id: int
    sub: Subscription
    edition_date: date
    composed: Composed
    message_id: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaperText:
    """What filters look at: the words of a paper and its categories."""

    id: str
    text: str  # title and abstract, lower-cased
    categories: tuple[str, ...]
