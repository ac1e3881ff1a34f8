"""What the sign-in and upvote tests share (issue #4): two papers to vote on, an app on the test's clock,
and signing in the way a reader does, through the link mailed to them."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.web.app import create_app
from tests.digest_support import add_papers, paper
from tests.integration.mail_support import NOW, Clock, inbox, link
from tests.integration.web_support import Web

DAY = date(2026, 6, 19)
LIKED = "2606.00001"  # 5 Hugging Face upvotes
OTHER = "2606.00002"  # 6 Hugging Face upvotes


def add_two_papers(engine: Engine) -> None:
    """LIKED and OTHER, listed on DAY."""
    add_papers(
        engine,
        [
            paper(LIKED, "Agents that simulate people", day=DAY, upvotes=5),
            paper(OTHER, "Rain removal from one photograph", day=DAY, upvotes=6),
        ],
        now=NOW,
    )


def make(settings: Settings, engine: Engine, clock: Clock, *, https: bool = False, **values: Any) -> Web:
    """A client of an app with these settings changed, on the test's clock."""
    app = create_app(settings.model_copy(update=values), engine=engine, clock=clock)
    return Web(app, base_url="https://testserver" if https else "http://testserver")


def count(engine: Engine, table: sa.Table) -> int:
    """The rows of a table."""
    with reading(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def ask_link(web: Web, settings: Settings, email: str, **extra: str) -> str:
    """Ask for a sign-in link through the form; the link's path, read from the mail."""
    before = inbox(settings)
    response = web.submit("/login", {"email": email, **extra})
    assert response.status_code == 200 and "Check your inbox" in response.text
    # Maildir keys order mails by the second they arrived: find the new one by content, not place.
    [(to, subject, text)] = [m for m in inbox(settings) if m not in before]
    assert subject == "Sign in to Papertrend" and to.lower() == email.lower()
    return link(text, "/login/")


def sign_in_by_mail(web: Web, settings: Settings, email: str) -> httpx.Response:
    """Ask for the link, then follow it (the POST that signs in); its 303."""
    path = ask_link(web, settings, email)
    response = web.submit(path)
    assert response.status_code == 303, response.text
    return response
