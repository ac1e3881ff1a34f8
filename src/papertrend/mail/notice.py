"""Notices: short mails with a link or two (confirm a subscription, sign in), for any room (#4, #5, #11)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from papertrend.mail.message import MailContext, alternative, new_message
from papertrend.mail.templates import environment

_env = environment(Path(__file__).parent / "templates")


def render_notice(
    *,
    ctx: MailContext,
    to: str,
    subject: str,
    paragraphs: Sequence[str],
    buttons: Sequence[tuple[str, str]],
    after: Sequence[str],
    now: datetime,
) -> EmailMessage:
    """A notice as multipart/alternative: paragraphs, a button per link, then the small print."""
    context = {
        "subject": subject,
        "base_url": ctx.root,
        "paragraphs": list(paragraphs),
        "links": [{"label": label, "url": url} for label, url in buttons],
        "after": list(after),
    }
    msg = new_message(ctx=ctx, to=to, subject=subject, message_id=make_msgid(domain=ctx.domain), date_=now)
    msg["Auto-Submitted"] = "auto-generated"
    return alternative(
        msg,
        text=_env.get_template("notice.txt").render(context),
        html=_env.get_template("notice.html").render(context),
    )
