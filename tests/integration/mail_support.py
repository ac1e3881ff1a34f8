"""What the subscribe, sign-in and preferences tests share (issues #4, #5, #13): a clock the test
moves, the test's own Maildir read back as a reader would read their inbox, and the preferences form as
a reader fills it in."""

from __future__ import annotations

import mailbox
import re
from datetime import UTC, datetime

from papertrend.config import Settings
from tests.integration.web_support import Web, parse_html

NOW = datetime(2026, 6, 20, 10, 0, tzinfo=UTC)
# What a reader types into the preferences form (every field but the time zone).
TYPED = {
    "topics": "LLM agents that simulate people\r\ndiffusion for video",
    "include": "agent, simulation",
    "exclude": "survey, benchmark",
    "categories": "cs.CL, cs.AI",
    "cadence": "weekly",
    "send_weekday": "4",
    "send_hour": "7",
}


class Clock:
    """The app's clock: a test sets `now` to move time."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def inbox(settings: Settings) -> list[tuple[str, str, str]]:
    """(to, subject, text) of each message in the Maildir, oldest first."""
    box = mailbox.Maildir(str(settings.mail_url).removeprefix("maildir://"), create=True)
    out = []
    for key in sorted(box.iterkeys()):
        msg = box[key]
        text = ""
        for part in msg.walk():
            if part.get_content_type() == "text/plain":
                payload = part.get_payload(decode=True)
                assert isinstance(payload, bytes)
                text = payload.decode()
        out.append((str(msg["To"]), str(msg["Subject"]), text))
    return out


def link(text: str, path: str) -> str:
    """The path of the first link in a mail's text that starts with `path`."""
    found = re.search(rf"https?://[^/\s]+({re.escape(path)}[^\s]+)", text)
    assert found, text
    return found.group(1)


def confirmed(web: Web, settings: Settings, email: str) -> str:
    """Subscribe and confirm; the preferences path."""
    web.submit("/subscribe", data={"email": email})
    confirm_path = link(inbox(settings)[-1][2], "/subscribe/confirm/")
    return str(web.submit(confirm_path).headers["location"]).split("?")[0]


def fields(body: str) -> dict[str, str]:
    """A page's text inputs by name, with the checked radio buttons as "checked"."""
    html = parse_html(body)
    out = {
        i["name"]: i.get("value", "")
        for i in html.inputs
        if i.get("name") and i.get("tag") == "input" and i.get("type") not in ("radio", "checkbox")
    }
    out.update({i["name"]: "checked" for i in html.inputs if i.get("type") == "radio" and "checked" in i})
    return out
