"""When editions are due: the send instant, the latest edition date, the days it covers (issue #5).

Pure functions of a subscriber's preferences and the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from papertrend.digest.records import Preferences, Subscription

# How far back an edition may reach when the previous one is long ago (a pause, a new subscriber).
MAX_WINDOW_DAYS = 7


def scheduled_at(prefs: Preferences, day: date) -> datetime:
    """The instant an edition of `day` is due: the send hour in the subscriber's zone, in UTC."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(prefs.send_hour), tzinfo=ZoneInfo(prefs.timezone)).astimezone(UTC)


def edition_for(*, prefs: Preferences, confirmed_at: datetime | None, now: datetime) -> date | None:
    """The latest edition date whose send time has passed at `now`; None before the first one.

    Only editions scheduled after confirmation count, so someone confirming at 10:00 with an 08:00
    send hour gets their first mail the next morning. Missed editions are not caught up: the latest
    one covers everything since the previous edition.
    """
    if confirmed_at is None:
        return None
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo(prefs.timezone)).date()
    step = timedelta(days=1)
    if prefs.cadence == "weekly":
        day -= timedelta(days=(day.weekday() - prefs.send_weekday) % 7)
        step = timedelta(days=7)
    if scheduled_at(prefs, day) > now:
        day -= step
    return day if scheduled_at(prefs, day) >= confirmed_at else None


def window_since(*, edition_date: date, cadence: str, previous: date | None) -> date:
    """The first listing day an edition covers: the previous edition's day, within MAX_WINDOW_DAYS."""
    default = edition_date - timedelta(days=7 if cadence == "weekly" else 1)
    if previous is None:
        return default
    return max(previous, edition_date - timedelta(days=MAX_WINDOW_DAYS))


@dataclass(frozen=True, slots=True)
class Due:
    """A subscription whose edition of `edition_date`, covering papers since `since`, is not yet composed."""

    sub: Subscription
    edition_date: date
    since: date
