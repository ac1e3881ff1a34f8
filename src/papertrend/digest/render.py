"""Render mail: the digest and the notices (confirm, already subscribed) as multipart/alternative.

Every message is built with the email package's `EmailMessage` under an SMTP policy, which refuses
a header value containing CR or LF: text from sources (titles) and users (addresses) cannot add a
header. Titles are also folded to one line first, so a hostile title still makes a valid subject.
HTML is rendered with autoescape from templates whose CSS was inlined with css-inline when they
were loaded (mail clients drop `<style>`; the phone rules stay in a `<style>` block as @media rules
cannot be inlined).
"""

from __future__ import annotations

import binascii
import functools
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path
from urllib.parse import quote, urlsplit

import css_inline
import jinja2

from papertrend.digest.subscriptions import Subscription, link_token
from papertrend.papers.models import Paper


class _HeaderClasses(HeaderRegistry):
    """The standard header registry, building each header class once.

    The stdlib's registry creates a new class for every header it parses: a third of the time of
    building a digest. The parsing, and its refusal of CR and LF, is unchanged.
    """

    def __init__(self) -> None:
        super().__init__()
        self._made: dict[str, type[BaseHeader]] = {}

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        made = self._made.get(key)
        if made is None:
            made = self._made[key] = super().__getitem__(name)
        return made


# CRLF line ends for the wire; 7-bit bodies (quoted-printable or base64) so relays without
# 8BITMIME take them unchanged.
MAIL_POLICY = policy.SMTP.clone(cte_type="7bit", header_factory=_HeaderClasses())
# Written out with RFC 5322's 998-character limit: folding at 78 would RFC 2047-encode a long URL in
# List-Unsubscribe, which mail clients then cannot read. Bodies keep their 76-character lines, as they
# are encoded when the message is built, under MAIL_POLICY.
WIRE_POLICY = MAIL_POLICY.clone(max_line_length=998)
TEMPLATES = Path(__file__).parent / "templates"
SUBJECT_TITLE_CHARS = 90
SNIPPET_CHARS = 220
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# One inliner for the process: it holds no per-message state. Remote stylesheets are never fetched.
_inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


def _source(name: str) -> str:
    """A template's source; an HTML template's with its CSS already inlined.

    Inlined once per process instead of once per message (issue #5: inlining every digest was a
    fifth of its rendering). The same result: every element the style sheet selects is written in
    the template itself, values are escaped text that adds none, and the @media rules stay in the
    `<style>` block. css-inline keeps the `{{ }}` and `{% %}` tags as the text they are.
    """
    text = (TEMPLATES / name).read_text(encoding="utf-8")
    return _inliner.inline(text) if name.endswith(".html") else text


_env = jinja2.Environment(
    loader=jinja2.FunctionLoader(_source),
    autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@functools.lru_cache(maxsize=16)
def _bare_address(mail_from: str) -> str:
    # Parsed once: every digest asks twice (issue #5).
    return parseaddr(mail_from)[1] or "papertrend@localhost"


@dataclass(frozen=True, slots=True)
class MailContext:
    """What every message needs from the settings."""

    base_url: str
    mail_from: str
    secret: str

    @property
    def from_address(self) -> str:
        """The bare address of `mail_from` (the envelope sender)."""
        return _bare_address(self.mail_from)

    @property
    def domain(self) -> str:
        """The domain Message-IDs and List-Id are made under."""
        return self.from_address.rpartition("@")[2] or urlsplit(self.base_url).hostname or "localhost"

    @property
    def root(self) -> str:
        return self.base_url.rstrip("/")


def one_line(text: str, limit: int | None = None) -> str:
    """Text folded to one line of single spaces (no CR, LF or other control), cut at a word."""
    if limit is not None:
        # Only the start can survive the cut; folding a whole abstract per message was the
        # slowest step of rendering.
        text = text[: limit * 3 + 64]
    # split() breaks at every Unicode line break and space; the regex takes the other controls.
    flat = " ".join(_CONTROL.sub(" ", text).split())
    if limit is not None and len(flat) > limit:
        flat = flat[:limit].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return flat


def snippet(text: str, chars: int = SNIPPET_CHARS) -> str:
    """About two lines of an abstract, cut at a word."""
    return one_line(text, chars)


def authors_short(names: Sequence[str], keep: int = 3) -> str:
    """The first authors and how many more."""
    names = [one_line(n) for n in names]
    if len(names) <= keep + 1:
        return ", ".join(names)
    return f"{', '.join(names[:keep])} and {len(names) - keep} more"


def _http(url: str | None) -> str | None:
    # Sources are not trusted to keep `javascript:` out of links.
    if not url:
        return None
    url = url.strip()
    return url if urlsplit(url).scheme.lower() in ("http", "https") and " " not in url else None


_NEWLINES = re.compile(r"\r\n|\r|\n")
# Headers whose values recur across a run's messages (ours alone, or the day's subject): folded
# once. To, Message-ID and List-Unsubscribe differ per message and are folded each time.
_SHARED_HEADERS = frozenset(
    (
        "subject",
        "from",
        "date",
        "list-id",
        "list-unsubscribe-post",
        "auto-submitted",
        "precedence",
        "mime-version",
        "content-type",
        "content-transfer-encoding",
    )
)


@functools.lru_cache(maxsize=1024)
def _folded_shared(name: str, header: str) -> bytes:
    # Keyed by the name and the header's text (a header object compares as its text).
    return WIRE_POLICY.fold_binary(name, header)


def _headers_bytes(message: EmailMessage) -> bytes:
    out = []
    for name, value in message.raw_items():
        if name.lower() in _SHARED_HEADERS:
            out.append(_folded_shared(name, value))
        else:
            out.append(WIRE_POLICY.fold_binary(name, value))
    out.append(b"\r\n")
    return b"".join(out)


def _leaf_bytes(part: EmailMessage) -> bytes | None:
    payload = part.get_payload()
    if not isinstance(payload, str) or not payload.isascii() or part.is_multipart():
        return None
    # Our payloads end lines with "\n" alone: a plain replace, else the generator's rule.
    lines = payload.replace("\n", "\r\n") if "\r" not in payload else _NEWLINES.sub("\r\n", payload)
    return _headers_bytes(part) + lines.encode("ascii")


def _wire_bytes(message: EmailMessage) -> bytes | None:
    """What `as_bytes(policy=WIRE_POLICY)` writes, for the shapes this module builds (one text part,
    or multipart of text parts with a set boundary); None for any other."""
    if not message.is_multipart():
        return _leaf_bytes(message)
    parts = message.get_payload()
    boundary = message.get_boundary()
    if not isinstance(parts, list) or not boundary or message.preamble is not None:
        return None
    if message.epilogue is not None:
        return None
    bodies = []
    for part in parts:
        body = _leaf_bytes(part) if isinstance(part, EmailMessage) else None
        if body is None:
            return None
        bodies.append(body)
    dash = b"--" + boundary.encode("ascii")
    middle = (b"\r\n" + dash + b"\r\n").join(bodies)
    return _headers_bytes(message) + dash + b"\r\n" + middle + b"\r\n" + dash + b"--\r\n"


def to_bytes(message: EmailMessage) -> bytes:
    """The message as it goes on the wire (CRLF, headers unfolded up to 998 characters).

    The email package's generator took as long as building the message (issue #5); the messages
    built here are written directly, byte for byte what the generator writes (a unit test holds
    the two equal), and anything else goes through the generator.
    """
    return _wire_bytes(message) or message.as_bytes(policy=WIRE_POLICY)


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


ViewCache = dict[tuple[str, datetime, str], PaperView]


def _paper_view(
    ctx: MailContext, p: Paper, topic: str | None = None, cache: ViewCache | None = None
) -> PaperView:
    # A run renders the same trending papers for thousands of subscribers: build each view once.
    key = (p.id, p.changed_at, topic or "")
    if cache is not None and key in cache:
        return cache[key]
    view = PaperView(
        title=one_line(p.title),
        authors=authors_short(p.authors),
        snippet=snippet(p.abstract),
        page=f"{ctx.root}/papers/{quote(p.id, safe='./')}",
        abs=f"https://arxiv.org/abs/{quote(p.id, safe='./')}",
        pdf=_http(p.pdf_url) or f"https://arxiv.org/pdf/{quote(p.id, safe='./')}",
        code=_http(p.code_url),
        votes=p.hf_upvotes or 0,
        topic=one_line(topic or "", 80),
    )
    if cache is not None:
        cache[key] = view
    return view


def subject_for(*, edition_date: date, cadence: str, top_title: str) -> str:
    """`Trending papers — Tue 24 Jun: <top title>` (weekly: `… — week of Mon 23 Jun: …`)."""
    day = f"{edition_date:%a} {edition_date.day} {edition_date:%b}"
    when = f"week of {day}" if cadence == "weekly" else day
    title = one_line(top_title, SUBJECT_TITLE_CHARS)
    return f"Trending papers — {when}: {title}" if title else f"Trending papers — {when}"


@functools.lru_cache(maxsize=1024)
def _shared(name: str, value: str) -> BaseHeader:
    """A header whose value recurs across a run (the From, the day's subject and date), parsed once.

    Parsed as an assignment parses it, refusal of CR and LF included.
    """
    return MAIL_POLICY.header_store_parse(name, value)[1]  # type: ignore[no-any-return]


def _new_message(
    *, ctx: MailContext, to: str, subject: str, message_id: str, date_: datetime
) -> EmailMessage:
    msg = EmailMessage(policy=MAIL_POLICY)
    # Each assignment goes through the policy's header parser, which raises on CR or LF.
    msg["Subject"] = _shared("Subject", subject)
    msg["From"] = _shared("From", ctx.mail_from)
    msg["To"] = to
    msg["Date"] = _shared("Date", format_datetime(date_))
    msg["Message-ID"] = message_id
    return msg


@functools.lru_cache(maxsize=64)
def _fixed(name: str, value: str) -> BaseHeader:
    """A header whose value is ours alone (no user or source text), parsed once and reused."""
    return MAIL_POLICY.header_factory(name, value)  # type: ignore[no-any-return]


# Safe as a constant: no line of a quoted-printable body can hold "=_" unencoded, and base64 lines
# never start with "--", so this boundary cannot occur inside a part.
BOUNDARY = "=_papertrend_alternative_=_"


def _part(subtype: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=MAIL_POLICY)
    part["Content-Type"] = _fixed("Content-Type", f'text/{subtype}; charset="utf-8"')
    data = body.encode()
    if subtype == "plain":
        # Quoted-printable keeps the text part readable raw; binascii's encoder is C (the email
        # package's is pure Python, the slowest step of building a digest).
        part["Content-Transfer-Encoding"] = _fixed("Content-Transfer-Encoding", "quoted-printable")
        part.set_payload(binascii.b2a_qp(data, istext=True).decode("ascii"))
    else:
        part["Content-Transfer-Encoding"] = _fixed("Content-Transfer-Encoding", "base64")
        part.set_payload(_base64_lines(data))
    return part


def _base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters, as `base64.encodebytes` writes it, in one C call and a
    slicing loop (encodebytes calls C once per 57 bytes)."""
    flat = binascii.b2a_base64(data, newline=False).decode("ascii")
    return "".join(flat[i : i + 76] + "\n" for i in range(0, len(flat), 76))


def _finish(msg: EmailMessage, *, text: str, html: str) -> EmailMessage:
    """Attach the text and the HTML (rendered from a CSS-inlined template) as multipart/alternative,
    plain text first."""
    msg["MIME-Version"] = _fixed("MIME-Version", "1.0")
    msg["Content-Type"] = _fixed("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    msg.set_payload([_part("plain", text), _part("html", html)])
    return msg


def render_digest(
    *,
    ctx: MailContext,
    sub: Subscription,
    edition_date: date,
    created_at: datetime,
    message_id: str,
    trending: Sequence[Paper],
    for_you: Sequence[tuple[Paper, str]],
    cache: ViewCache | None = None,
) -> EmailMessage:
    """One edition as a multipart/alternative message with the list headers of RFC 2369 and 8058."""
    prefs_url, unsub_url = links(ctx, sub)
    cadence = sub.prefs.cadence
    top = trending[0].title if trending else (for_you[0][0].title if for_you else "")
    subject = subject_for(edition_date=edition_date, cadence=cadence, top_title=top)
    day = f"{edition_date:%A} {edition_date.day} {edition_date:%B %Y}"
    context = {
        "subject": subject,
        "heading": f"Week of {day}" if cadence == "weekly" else day,
        "base_url": ctx.root,
        "trending": [_paper_view(ctx, p, cache=cache) for p in trending],
        "for_you": [_paper_view(ctx, p, topic, cache) for p, topic in for_you],
        "cadence": cadence,
        "email": sub.email,
        "preferences_url": prefs_url,
        "unsubscribe_url": unsub_url,
    }
    msg = _new_message(ctx=ctx, to=sub.email, subject=subject, message_id=message_id, date_=created_at)
    msg["List-Id"] = _shared("List-Id", f"Papertrend {cadence} digest <{cadence}.digest.{ctx.domain}>")
    token = unsub_url.rsplit("/", 1)[1]
    msg["List-Unsubscribe"] = f"<{unsub_url}>, <mailto:{ctx.from_address}?subject=unsubscribe%20{token}>"
    msg["List-Unsubscribe-Post"] = _fixed("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
    # Out-of-office replies to a digest help nobody (RFC 3834).
    msg["Auto-Submitted"] = _fixed("Auto-Submitted", "auto-generated")
    msg["Precedence"] = _fixed("Precedence", "bulk")
    return _finish(
        msg,
        text=_env.get_template("digest.txt").render(context),
        html=_env.get_template("digest.html").render(context),
    )


def _notice(
    *,
    ctx: MailContext,
    to: str,
    subject: str,
    paragraphs: Sequence[str],
    buttons: Sequence[tuple[str, str]],
    after: Sequence[str],
    now: datetime,
) -> EmailMessage:
    context = {
        "subject": subject,
        "base_url": ctx.root,
        "paragraphs": list(paragraphs),
        "links": [{"label": label, "url": url} for label, url in buttons],
        "after": list(after),
    }
    msg = _new_message(ctx=ctx, to=to, subject=subject, message_id=make_msgid(domain=ctx.domain), date_=now)
    msg["Auto-Submitted"] = "auto-generated"
    return _finish(
        msg,
        text=_env.get_template("notice.txt").render(context),
        html=_env.get_template("notice.html").render(context),
    )


def render_confirmation(*, ctx: MailContext, to: str, token: str, days: int, now: datetime) -> EmailMessage:
    """The double opt-in mail: one link to a page with a Confirm button."""
    return _notice(
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
    return _notice(
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


def render_sign_in(*, ctx: MailContext, to: str, token: str, minutes: int, now: datetime) -> EmailMessage:
    """The sign-in mail (issue #4): one link to a page with a "Sign in" button, valid for `minutes`."""
    return _notice(
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
