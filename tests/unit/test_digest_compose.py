"""Which editions are due and which papers they hold: the pure parts of digest/compose.py (issue #5)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from papertrend.digest.compose import select
from papertrend.digest.records import Composed, PaperText
from papertrend.digest.schedule import edition_for, scheduled_at, window_since
from papertrend.digest.subscriptions import Preferences
from papertrend.search.types import Hit

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


def texts(*specs: tuple[str, str, tuple[str, ...]]) -> dict[str, PaperText]:
    return {pid: PaperText(pid, text.lower(), cats) for pid, text, cats in specs}


TEXTS = texts(
    ("a", "Agents that simulate people", ("cs.CL",)),
    ("b", "A survey of agents", ("cs.AI",)),
    ("c", "Video diffusion", ("cs.CV",)),
    ("d", "Simulating a society of LLM agents", ("cs.CL", "cs.MA")),
    ("e", "Protein folding", ("q-bio.BM",)),
    ("f", "C++ compilers for agents", ("cs.PL",)),
)


def hits(*ids: str) -> list[Hit]:
    return [Hit(i, 1.0 / (n + 1)) for n, i in enumerate(ids)]


def test_select_never_repeats_a_paper_and_fills_for_you_by_turns() -> None:
    prefs = Preferences(topics=("agents", "diffusion"))
    got = select(
        prefs=prefs,
        trending_hits=hits("a", "c", "e"),
        topic_hits={"agents": hits("a", "d", "b", "f"), "diffusion": hits("c", "d")},
        texts=TEXTS,
        sent={"e"},
        n_trending=2,
        n_for_you=3,
    )
    # Trending takes a and c (e was sent before); topics take turns: agents → d, diffusion → (d, c
    # taken) nothing left, agents → b.
    assert got == Composed(trending=("a", "c"), for_you=(("d", "agents"), ("b", "agents"), ("f", "agents")))
    assert got.paper_ids == ["a", "c", "d", "b", "f"]
    assert Composed.from_json(got.to_json()) == got


def test_filters_categories_exclude_and_include() -> None:
    prefs = Preferences(
        topics=("agents",),
        categories=("cs.CL", "cs.AI", "cs.PL"),
        exclude_keywords=("survey",),
        include_keywords=("simulate", "c++"),
    )
    got = select(
        prefs=prefs,
        trending_hits=hits("c", "b", "e"),
        topic_hits={"agents": hits("a", "b", "d", "f")},
        texts=TEXTS,
        sent=set(),
        n_trending=5,
        n_for_you=5,
    )
    # c (cs.CV) and e (q-bio) are outside the categories; b mentions "survey"; d says "simulating",
    # not the word "simulate"; "c++" matches as a word.
    assert got.trending == ()
    assert got.for_you == (("a", "agents"), ("f", "agents"))


def test_nothing_new_is_an_empty_edition() -> None:
    got = select(
        prefs=Preferences(topics=("agents",)),
        trending_hits=hits("a"),
        topic_hits={"agents": hits("a")},
        texts=TEXTS,
        sent={"a"},
        n_trending=5,
        n_for_you=5,
    )
    assert got.empty and got.paper_ids == []
