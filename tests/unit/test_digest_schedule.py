"""When editions are due and what days they cover: digest/schedule.py (issue #5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from papertrend.digest.schedule import edition_for, scheduled_at, window_since
from papertrend.digest.subscriptions import Preferences

TUE = date(2026, 6, 23)


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour, minutes=minute)


def test_daily_edition_is_due_from_the_send_hour_in_the_subscribers_zone() -> None:
    paris = Preferences(send_hour=8, timezone="Europe/Paris")  # UTC+2 in June
    confirmed = utc(TUE - timedelta(days=10), 12)
    assert scheduled_at(paris, TUE) == utc(TUE, 6)
    assert edition_for(prefs=paris, confirmed_at=confirmed, now=utc(TUE, 5, 59)) == TUE - timedelta(days=1)
    assert edition_for(prefs=paris, confirmed_at=confirmed, now=utc(TUE, 6)) == TUE
    tokyo = Preferences(send_hour=8, timezone="Asia/Tokyo")  # 08:00 JST is 23:00 UTC the day before
    assert edition_for(prefs=tokyo, confirmed_at=confirmed, now=utc(TUE, 23, 30)) == TUE + timedelta(days=1)


def test_the_first_edition_is_the_first_send_time_after_confirmation() -> None:
    prefs = Preferences(send_hour=8)
    confirmed = utc(TUE, 10)  # after today's 08:00
    assert edition_for(prefs=prefs, confirmed_at=confirmed, now=utc(TUE, 11)) is None
    assert edition_for(
        prefs=prefs, confirmed_at=confirmed, now=utc(TUE + timedelta(days=1), 8)
    ) == TUE + timedelta(days=1)
    assert edition_for(prefs=prefs, confirmed_at=None, now=utc(TUE, 11)) is None
    early = utc(TUE, 7)  # before today's 08:00: today's edition is theirs
    assert edition_for(prefs=prefs, confirmed_at=early, now=utc(TUE, 8, 1)) == TUE


def test_weekly_editions_fall_on_the_chosen_weekday() -> None:
    friday = Preferences(cadence="weekly", send_weekday=4, send_hour=9)
    confirmed = utc(TUE - timedelta(days=30), 12)
    # Tuesday: the latest Friday 09:00 that has passed is last week's.
    assert edition_for(prefs=friday, confirmed_at=confirmed, now=utc(TUE, 12)) == date(2026, 6, 19)
    assert edition_for(prefs=friday, confirmed_at=confirmed, now=utc(date(2026, 6, 26), 8)) == date(
        2026, 6, 19
    )
    assert edition_for(prefs=friday, confirmed_at=confirmed, now=utc(date(2026, 6, 26), 9)) == date(
        2026, 6, 26
    )


def test_daylight_saving_changes_keep_the_local_hour() -> None:
    ny = Preferences(send_hour=8, timezone="America/New_York")
    assert scheduled_at(ny, date(2026, 3, 7)) == utc(date(2026, 3, 7), 13)  # EST
    assert scheduled_at(ny, date(2026, 3, 9)) == utc(date(2026, 3, 9), 12)  # EDT


def test_window_reaches_back_to_the_previous_edition_within_a_week() -> None:
    assert window_since(edition_date=TUE, cadence="daily", previous=None) == TUE - timedelta(days=1)
    assert window_since(edition_date=TUE, cadence="weekly", previous=None) == TUE - timedelta(days=7)
    assert window_since(
        edition_date=TUE, cadence="daily", previous=TUE - timedelta(days=3)
    ) == TUE - timedelta(days=3)
    assert window_since(
        edition_date=TUE, cadence="daily", previous=TUE - timedelta(days=40)
    ) == TUE - timedelta(days=7)
