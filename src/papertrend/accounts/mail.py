"""The sign-in mail (issue #4), a notice of the mail room (issue #11: no longer built in digest/)."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage

from papertrend.mail.message import MailContext
from papertrend.mail.notice import render_notice


def render_sign_in(*, ctx: MailContext, to: str, token: str, minutes: int, now: datetime) -> EmailMessage:
    """The sign-in mail (issue #4): one link to a page with a "Sign in" button, valid for `minutes`."""
    return render_notice(
        ctx=ctx,
        to=to,
        subject="Sign in to Papertrend",
        paragraphs=[
            f"Someone, hopefully you, asked to sign in to Papertrend as {to}.",
            "Open the link and press Sign in.",
        ],
        buttons=[("Sign in to Papertrend", f"{ctx.root}/login/{token}")],
        after=[
            f"The link works once, for {minutes} minutes. If you did not ask for it, ignore this mail: "
            "nobody can sign in without it."
        ],
        now=now,
    )
