"""Render the digest and its notices (confirm, already subscribed) as multipart/alternative (issue #5).

Messages are built with the mail room's policy (papertrend/mail/message.py), which refuses a header
value containing CR or LF: text from sources (titles) and users (addresses) cannot add a header.
Titles are also folded to one line first, so a hostile title still makes a valid subject. HTML is
rendered with autoescape from templates whose CSS was inlined when they were loaded
(papertrend/mail/templates.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote, urlsplit

from papertrend.digest.records import Subscription
from papertrend.digest.subscriptions import link_token
from papertrend.mail.message import MailContext, alternative, fixed_header, new_message, shared_header
from papertrend.mail.notice import render_notice
from papertrend.mail.templates import environment
from papertrend.papers.models import Paper, authors_short, without_bidi_controls

TEMPLATES = Path(__file__).parent / "templates"
SUBJECT_TITLE_CHARS = 90
SNIPPET_CHARS = 220
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_env = environment(TEMPLATES, styles_from="digest.html")
# The reader's own "Not interested" link goes into a For-you paper's block after it is rendered: the
# block is rendered once per run with this in its place. A NUL cannot come from a value: text is
# folded by one_line and links checked by _http, which both keep control characters out.
_NOT_INTERESTED = "\x00not-interested\x00"


def one_line(text: str, limit: int | None = None) -> str:
    """Text folded to one line of single spaces (no CR, LF or other control), cut at a word."""
    if limit is not None:
        # Only the start can survive the cut; folding a whole abstract per message was the
        # slowest step of rendering.
        text = text[: limit * 3 + 64]
    # split() breaks at every Unicode line break and space; the regex takes the other controls, and
    # bidirectional overrides go for text stored before ingest removed them (#12).
    flat = " ".join(_CONTROL.sub(" ", without_bidi_controls(text)).split())
    if limit is not None and len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return flat


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    """About two lines of an abstract, cut at a word."""
    return one_line(text, chars)


def _http(url: str | None) -> str | None:
    # Sources are not trusted to keep `javascript:` out of links.
    if not url:
        return None
    url = url.strip()
    if " " in url or _CONTROL.search(url):  # no valid URL holds either
        return None
    return url if urlsplit(url).scheme.lower() in ("http", "https") else None


def message_id_for(*, subscription_id: int, edition_date: date, secret: str, domain: str) -> str:
    """The stable Message-ID of an edition: the same on every attempt, unguessable across installs."""
    tag = hashlib.sha256(f"{secret}|{subscription_id}|{edition_date}".encode()).hexdigest()[:12]
    return f"<digest.{edition_date:%Y%m%d}.{subscription_id}.{tag}@{domain}>"


def links(ctx: MailContext, sub: Subscription) -> tuple[str, str]:
    """(preferences URL, unsubscribe URL) of a subscription, signed."""
    manage = link_token(secret=ctx.secret, subscription=sub, purpose="manage")
    leave = link_token(secret=ctx.secret, subscription=sub, purpose="unsubscribe")
    return f"{ctx.root}/preferences/{manage}", f"{ctx.root}/unsubscribe/{leave}"


@dataclass(frozen=True, slots=True)
class PaperView:
    """What the templates show of one paper. Attributes, not a dict: Jinja tries an attribute first,
    and a dict's miss raised once per field of every paper of every message (issue #5)."""

    title: str
    authors: str
    snippet: str
    page: str
    abs: str
    pdf: str
    code: str | None
    votes: int
    topic: str
    id: str = ""

    @property
    def why(self) -> str:
        """Why a "For you" paper is here: the recommender's reason ("like …", "matches …", "by …";
        #13), or the topic of an edition ranked by topics alone."""
        if self.topic.startswith(REASONS):
            return self.topic[0].upper() + self.topic[1:]
        return f"Because you follow “{self.topic}”"


REASONS = ("like ", "matches ", "by ")


@dataclass
class RenderCache:
    """What a run renders once for all its subscribers: each paper's view and its blocks of HTML and
    text (a digest's papers were ~360 template steps and ~150 escapes in every message; #13)."""

    views: dict[tuple[str, datetime, str], PaperView] = field(default_factory=dict)
    blocks: dict[tuple[str, PaperView], tuple[str, str]] = field(default_factory=dict)


def _paper_view(
    ctx: MailContext, p: Paper, topic: str | None = None, cache: RenderCache | None = None
) -> PaperView:
    # A run renders the same trending papers for thousands of subscribers: build each view once.
    views = cache.views if cache is not None else None
    key = (p.id, p.changed_at, topic or "")
    if views is not None and key in views:
        return views[key]
    # "For you" reasons differ by reader ("like <their saved paper>"): the rest of the view is the
    # paper's alone, folded once (68 one_line calls a digest before, most of them for authors).
    plain_key = (p.id, p.changed_at, "")
    plain = views.get(plain_key) if views is not None else None
    if plain is None:
        plain = PaperView(
            title=one_line(p.title),
            authors=authors_short([one_line(n) for n in p.authors]),
            snippet=snippet(p.abstract),
            page=f"{ctx.root}/papers/{quote(p.id, safe='./')}",
            abs=f"https://arxiv.org/abs/{quote(p.id, safe='./')}",
            pdf=_http(p.pdf_url) or f"https://arxiv.org/pdf/{quote(p.id, safe='./')}",
            code=_http(p.code_url),
            votes=p.hf_upvotes or 0,
            topic="",
            id=p.id,
        )
        if views is not None:
            views[plain_key] = plain
    view = replace(plain, topic=one_line(topic, 100)) if topic else plain
    if views is not None:
        views[key] = view
    return view


def _blocks(macro: str, view: PaperView, cache: RenderCache | None) -> tuple[str, str]:
    """A paper's (HTML, text) block from digest_papers.html/.txt's `macro`, rendered once per run."""
    found = cache.blocks.get((macro, view)) if cache is not None else None
    if found is None:
        args = (view, _NOT_INTERESTED) if macro == "for_you_paper" else (view,)
        found = (
            getattr(_env.get_template("digest_papers.html").module, macro)(*args),
            getattr(_env.get_template("digest_papers.txt").module, macro)(*args),
        )
        if cache is not None:
            cache.blocks[(macro, view)] = found
    return found


def subject_for(*, edition_date: date, cadence: str, top_title: str) -> str:
    """`Trending papers — Tue 24 Jun: <top title>` (weekly: `… — week of Mon 23 Jun: …`)."""
    day = f"{edition_date:%a} {edition_date.day} {edition_date:%b}"
    when = f"week of {day}" if cadence == "weekly" else day
    title = one_line(top_title, SUBJECT_TITLE_CHARS)
    return f"Trending papers — {when}: {title}" if title else f"Trending papers — {when}"


def render_digest(
    *,
    ctx: MailContext,
    sub: Subscription,
    edition_date: date,
    created_at: datetime,
    message_id: str,
    trending: Sequence[Paper],
    for_you: Sequence[tuple[Paper, str]],
    cache: RenderCache | None = None,
) -> EmailMessage:
    """One edition as a multipart/alternative message with the list headers of RFC 2369 and 8058."""
    prefs_url, unsub_url = links(ctx, sub)
    cadence = sub.prefs.cadence
    top = trending[0].title if trending else (for_you[0][0].title if for_you else "")
    subject = subject_for(edition_date=edition_date, cadence=cadence, top_title=top)
    day = f"{edition_date:%A} {edition_date.day} {edition_date:%B %Y}"
    not_interested = f"{ctx.root}/not-interested/" + link_token(
        secret=ctx.secret, subscription=sub, purpose="not_interested"
    )
    hot = [_blocks("trending_paper", _paper_view(ctx, p, cache=cache), cache) for p in trending]
    mine = [_blocks("for_you_paper", _paper_view(ctx, p, topic, cache), cache) for p, topic in for_you]
    context = {
        "subject": subject,
        "heading": f"Week of {day}" if cadence == "weekly" else day,
        "base_url": ctx.root,
        # No padding (#13): a reader with topics whose edition found nothing relevant is told so.
        "nothing_for_you": not for_you and bool(sub.prefs.topics),
        "cadence": cadence,
        "email": sub.email,
        "preferences_url": prefs_url,
        "unsubscribe_url": unsub_url,
    }
    html = {
        "trending": [h for h, _ in hot],
        "for_you": [h.replace(_NOT_INTERESTED, not_interested) for h, _ in mine],
    }
    text = {
        "trending": [t for _, t in hot],
        "for_you": [t.replace(_NOT_INTERESTED, not_interested) for _, t in mine],
    }
    msg = new_message(ctx=ctx, to=sub.email, subject=subject, message_id=message_id, date_=created_at)
    msg["List-Id"] = shared_header("List-Id", f"Papertrend {cadence} digest <{cadence}.digest.{ctx.domain}>")
    token = unsub_url.rsplit("/", 1)[1]
    msg["List-Unsubscribe"] = f"<{unsub_url}>, <mailto:{ctx.from_address}?subject=unsubscribe%20{token}>"
    msg["List-Unsubscribe-Post"] = fixed_header("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    # Out-of-office replies to a digest help nobody (RFC 3834).
    msg["Auto-Submitted"] = fixed_header("Auto-Submitted", "auto-generated")
    msg["Precedence"] = fixed_header("Precedence", "bulk")
    return alternative(
        msg,
        text=_env.get_template("digest.txt").render(context, **text),
        html=_env.get_template("digest.html").render(context, **html),
    )


def render_confirmation(*, ctx: MailContext, to: str, token: str, days: int, now: datetime) -> EmailMessage:
    """The double opt-in mail: one link to a page with a Confirm button."""
    return render_notice(
        ctx=ctx,
        to=to,
        subject="Confirm your Papertrend subscription",
        paragraphs=[
            f"Someone, hopefully you, asked to receive trending research papers at {to}.",
            "Open the link and press Confirm to start; then choose your topics.",
        ],
        buttons=[("Confirm your subscription", f"{ctx.root}/subscribe/confirm/{token}")],
        after=[
            f"The link works for {days} days. If you did not ask for this, ignore this mail: "
            "nothing more will be sent."
        ],
        now=now,
    )


def render_already(*, ctx: MailContext, sub: Subscription, now: datetime) -> EmailMessage:
    """Sent instead of a confirmation when the address is already subscribed."""
    prefs_url, unsub_url = links(ctx, sub)
    return render_notice(
        ctx=ctx,
        to=sub.email,
        subject="Your Papertrend subscription",
        paragraphs=[
            f"Someone, hopefully you, asked to subscribe {sub.email} to Papertrend. "
            "This address is already subscribed, so nothing has changed."
        ],
        buttons=[("Change your topics and time", prefs_url)],
        after=[f"To stop the emails: {unsub_url}"],
        now=now,
    )
