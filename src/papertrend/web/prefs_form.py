"""The digest preference form, one definition for every page that shows it (#5, #13): the token
preferences page, the subscribe form and "Your email". Each posts the fields of
`templates/subscribe_fields.html`; `PrefsForm` reads them as raw input for
`digest.subscriptions.parse_preferences`, and an error shows the form again exactly as typed.
"""

from __future__ import annotations

import zoneinfo
from typing import Annotated, Any

from fastapi import Depends, Form

from papertrend.digest import subscriptions as subs
from papertrend.errors import BadRequest

HOURS = list(range(24))
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
COMMON_ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
    "America/Sao_Paulo",
    "Asia/Kolkata",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
)
# Every zone Python knows, for the time zone list (#13); the common ones come first in it.
ALL_ZONES = tuple(sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC"))

FormText = Annotated[str, Form()]


def form_context(prefs: subs.Preferences, **extra: Any) -> dict[str, Any]:
    """What `subscribe_fields.html` needs to show `prefs`."""
    return {
        "prefs": prefs,
        "topics_text": "\n".join(prefs.topics),
        "include_text": ", ".join(prefs.include_keywords),
        "exclude_text": ", ".join(prefs.exclude_keywords),
        "categories_text": ", ".join(prefs.categories),
        "hours": HOURS,
        "weekdays": list(enumerate(WEEKDAYS)),
        "zones": COMMON_ZONES,
        "all_zones": ALL_ZONES,
        "error_field": None,
        "guess_zone": False,
        **extra,
    }


def _as_int(value: int | str, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def typed_context(raw: subs.PreferenceInput, exc: BadRequest, **extra: Any) -> dict[str, Any]:
    """The form again exactly as typed, with the error next to its field (#13): a wrong time zone
    used to erase topics, words, cadence and hour, and its message looked like the success notice."""
    shown = subs.Preferences(
        cadence="weekly" if raw.cadence == "weekly" else "daily",
        send_hour=_as_int(raw.send_hour, 8),
        send_weekday=_as_int(raw.send_weekday, 0),
        timezone=raw.timezone[:64],
        paused=bool(raw.paused),
        use_library=bool(raw.use_library),
    )
    return form_context(
        shown,
        topics_text="\n".join(raw.topics)[:2_000],
        include_text=", ".join(raw.include_keywords)[:2_000],
        exclude_text=", ".join(raw.exclude_keywords)[:2_000],
        categories_text=", ".join(raw.categories)[:1_000],
        error=exc.message,
        error_field=getattr(exc, "field", None),
        **extra,
    )


def _prefs_form(
    topics: FormText = "",
    include: FormText = "",
    exclude: FormText = "",
    categories: FormText = "",
    cadence: FormText = "daily",
    send_hour: FormText = "8",
    send_weekday: FormText = "0",
    timezone: FormText = "UTC",
    paused: FormText = "",
    library: FormText = "on",
) -> subs.PreferenceInput:
    """The preference fields every form posts, as raw input.

    `library` is a pair of radio buttons rather than a checkbox: a form without it (the banner posts
    an address alone) then means "on", the default, where an unticked checkbox would read as "off".
    """
    return subs.PreferenceInput(
        topics=[topics],
        include_keywords=[include],
        exclude_keywords=[exclude],
        categories=[categories],
        cadence=cadence,
        send_hour=send_hour or 8,
        send_weekday=send_weekday or 0,
        timezone=timezone,
        paused=paused.lower() in ("1", "on", "true", "yes"),
        use_library=library.strip().lower() not in ("off", "0", "false", "no"),
    )


PrefsForm = Annotated[subs.PreferenceInput, Depends(_prefs_form)]
