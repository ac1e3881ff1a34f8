"""Subscriptions: double opt-in, preferences, leaving, suppressions and rate limits (issue #5).

States::

    (none) ──subscribe──► pending ──confirm (POST)──► confirmed ──unsubscribe──► unsubscribed
              ▲              │ 7 days unconfirmed: purged          └─5xx bounces──► bounced (+ suppression)
              └──────────────┴── subscribe again (unsubscribed, or expired pending)

- Confirmation tokens are random, mailed once and stored only as SHA-256 hashes with an expiry
  (DESIGN §6.10). A GET of the link shows a page; only the POST confirms, so mail scanners that
  prefetch links confirm nothing.
- Preferences and unsubscribe links are signed (HMAC-SHA256 with the secret key and the
  subscription's `link_salt`): they appear in every edition, never expire, and need no table.
- Subscribing a known address answers exactly as for a new one (no enumeration); what differs is
  only the mail that goes to that address: a confirmation, or "you are already subscribed".

Functions take the caller's connection and never commit (DESIGN §6.1); the SQL is in repository.py.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.engine import Connection

# Address validation moved to papertrend.addresses when sign-in came to share it (issue #4).
from papertrend.addresses import InvalidEmail as InvalidEmail
from papertrend.addresses import normalize_email as normalize_email
from papertrend.digest import repository
from papertrend.digest.records import Preferences as Preferences
from papertrend.digest.records import Subscription as Subscription
from papertrend.digest.records import from_row as from_row
from papertrend.digest.records import prefs_values
from papertrend.errors import BadRequest
from papertrend.numbers import whole_number
from papertrend.security import hash_token, new_token, same, sign

# "not_interested": the per-paper "Not interested" link of a digest's "For you" (#13).
LinkPurpose = Literal["manage", "unsubscribe", "not_interested"]
Action = Literal["confirm", "already", "suppressed"]

PENDING_DAYS = 7
# How a subscriber agreed to mail (`subscriptions.consent`, #13).
CONSENT_DOUBLE_OPT_IN = "double-opt-in"
CONSENT_SIGNED_IN = "signed-in"
MAX_TOPICS = 5
MAX_TOPIC_CHARS = 200
MAX_KEYWORDS = 20
MAX_KEYWORD_CHARS = 60
MAX_CATEGORIES = 20
_CATEGORY = re.compile(r"[A-Za-z][A-Za-z-]*(?:\.[A-Za-z][A-Za-z-]*)?")


# ------------------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class SubscribeResult:
    """What `subscribe` decided; the page shown is the same in every case."""

    action: Action
    email: str
    subscription_id: int | None = None
    token: str | None = None  # the raw confirmation token, to mail; never stored


@dataclass(frozen=True, slots=True)
class PreferenceInput:
    """Raw form values, before validation."""

    topics: Sequence[str] = ()
    include_keywords: Sequence[str] = ()
    exclude_keywords: Sequence[str] = ()
    categories: Sequence[str] = ()
    cadence: str = "daily"
    send_hour: int | str = 8
    send_weekday: int | str = 0
    timezone: str = "UTC"
    paused: bool = False
    use_library: bool = True


# ---------------------------------------------------------------------------------------- validation


class PreferenceError(BadRequest):
    """A preference that is wrong, and the form field it came from (shown next to it; #13)."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


def _split_list(values: Iterable[str], *, sep: str) -> list[str]:
    out: list[str] = []
    for value in values:
        for part in re.split(sep, value):
            part = " ".join(part.split())
            if part and part.lower() not in (o.lower() for o in out):
                out.append(part)
    return out


def parse_preferences(raw: PreferenceInput) -> Preferences:
    """Validated preferences; BadRequest naming the first field that is wrong."""
    # Topics are phrases, one per line; keywords and categories may also be comma-separated.
    topics = _split_list(raw.topics, sep=r"[\r\n]+")
    if len(topics) > MAX_TOPICS:
        raise PreferenceError(f"At most {MAX_TOPICS} topics, please.", field="topics")
    if any(len(t) > MAX_TOPIC_CHARS for t in topics):
        raise PreferenceError(f"Each topic must be at most {MAX_TOPIC_CHARS} characters.", field="topics")
    include = _split_list(raw.include_keywords, sep=r"[\r\n,]+")
    exclude = _split_list(raw.exclude_keywords, sep=r"[\r\n,]+")
    for name, words in (("include", include), ("exclude", exclude)):
        if len(words) > MAX_KEYWORDS or any(len(w) > MAX_KEYWORD_CHARS for w in words):
            raise PreferenceError(
                f"Up to {MAX_KEYWORDS} {name} keywords of at most {MAX_KEYWORD_CHARS} characters each.",
                field=name,
            )
    categories = _split_list(raw.categories, sep=r"[\s,]+")
    for cat in categories:
        if not _CATEGORY.fullmatch(cat) or len(cat) > 32:
            raise PreferenceError(
                f"{cat!r} is not an arXiv category (e.g. cs.CL, hep-th).", field="categories"
            )
    if len(categories) > MAX_CATEGORIES:
        raise PreferenceError(f"At most {MAX_CATEGORIES} categories, please.", field="categories")
    if raw.cadence not in ("daily", "weekly"):
        raise PreferenceError("Cadence must be daily or weekly.", field="cadence")
    try:
        hour, weekday = int(raw.send_hour), int(raw.send_weekday)
    except (TypeError, ValueError):
        raise PreferenceError("The send hour and weekday must be numbers.", field="send_hour") from None
    if not 0 <= hour <= 23 or not 0 <= weekday <= 6:
        raise PreferenceError("The send hour must be 0–23 and the weekday 0–6.", field="send_hour")
    tz = raw.timezone.strip() or "UTC"
    try:
        # The longest IANA name is 30 characters; a longer one would reach the file system as a
        # path, where a 4 kB one raises OSError (File name too long) rather than "not found".
        if len(tz) > 64:
            raise ValueError(tz)
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        shown = tz if len(tz) <= 64 else tz[:60] + "…"
        raise PreferenceError(
            f"{shown!r} is not a time zone we know (e.g. Europe/Paris, America/New_York).", field="timezone"
        ) from None
    return Preferences(
        topics=tuple(topics),
        include_keywords=tuple(include),
        exclude_keywords=tuple(exclude),
        categories=tuple(categories),
        cadence="weekly" if raw.cadence == "weekly" else "daily",
        send_hour=hour,
        send_weekday=weekday,
        timezone=tz,
        paused=bool(raw.paused),
        use_library=bool(raw.use_library),
    )


# ------------------------------------------------------------------------------------------- storage


def get(*, conn: Connection, subscription_id: int) -> Subscription | None:
    """One subscription by id, or None."""
    row = repository.subscription(conn=conn, subscription_id=subscription_id)
    return from_row(row) if row else None


def get_by_email(*, conn: Connection, email: str) -> Subscription | None:
    """The subscription of an address (compared by its normalised key), or None."""
    try:
        key = normalize_email(email).key
    except InvalidEmail:
        key = email.strip().lower()  # stored before today's rules: found by its own spelling
    row = repository.subscription_by_key(conn=conn, email_key=key)
    return from_row(row) if row else None


def is_suppressed(*, conn: Connection, email_key: str) -> bool:
    """Whether the address must not be mailed (it bounced)."""
    return repository.is_suppressed(conn=conn, email_key=email_key)


def _new_token(conn: Connection, *, subscription_id: int, now: datetime) -> str:
    token = new_token()
    repository.add_confirm_token(
        conn=conn,
        token_hash=hash_token(token),
        subscription_id=subscription_id,
        now=now,
        expires_at=now + timedelta(days=PENDING_DAYS),
    )
    return token


def subscribe(*, conn: Connection, email: str, prefs: Preferences, now: datetime) -> SubscribeResult:
    """Start (or restart) double opt-in for an address; a confirmed subscription is left untouched."""
    address, key = normalize_email(email)
    if is_suppressed(conn=conn, email_key=key):
        return SubscribeResult("suppressed", address)
    row = repository.subscription_by_key(conn=conn, email_key=key)
    pending = {
        "email": address,
        "status": "pending",
        "updated_at": now,
        "pending_until": now + timedelta(days=PENDING_DAYS),
        **prefs_values(prefs),
    }
    if row is None:
        sub_id = repository.add_subscription(
            conn=conn,
            values={"email_key": key, "link_salt": secrets.token_hex(16), "created_at": now, **pending},
        )
    elif row["status"] == "confirmed":
        # Anyone can type anyone's address: never let the form change a confirmed subscription.
        # The owner gets a mail with their preferences link instead.
        return SubscribeResult("already", row["email"], subscription_id=int(row["id"]))
    else:
        sub_id = int(row["id"])
        repository.update_subscription(conn=conn, subscription_id=sub_id, values=pending)
    token = _new_token(conn, subscription_id=sub_id, now=now)
    return SubscribeResult("confirm", address, subscription_id=sub_id, token=token)


def peek_confirmation(*, conn: Connection, token: str, now: datetime) -> Subscription | None:
    """The subscription a confirmation link would confirm, changing nothing; None if invalid or expired."""
    row = repository.confirming(conn=conn, token_hash=hash_token(token), now=now)
    if row is None or row["status"] not in ("pending", "confirmed"):
        return None
    return from_row(row)


def confirm(*, conn: Connection, token: str, now: datetime) -> Subscription | None:
    """Confirm the subscription of a valid token (idempotent); None if invalid, expired or suppressed."""
    token_hash = hash_token(token)
    row = repository.confirming(conn=conn, token_hash=token_hash, now=now)
    if row is None or row["status"] not in ("pending", "confirmed"):
        return None
    if is_suppressed(conn=conn, email_key=row["email_key"]):
        return None
    sub_id = int(row["id"])
    if row["status"] == "pending":
        repository.update_subscription(
            conn=conn,
            subscription_id=sub_id,
            values={
                "status": "confirmed",
                "confirmed_at": now,
                "pending_until": None,
                "left_at": None,
                "updated_at": now,
                "consent": CONSENT_DOUBLE_OPT_IN,
            },
        )
    repository.use_confirm_token(conn=conn, token_hash=token_hash, now=now)
    return get(conn=conn, subscription_id=sub_id)


def subscribe_signed_in(
    *, conn: Connection, email: str, prefs: Preferences, now: datetime
) -> Subscription | None:
    """Subscribe the signed-in reader's own address at once, with no confirmation mail (#13).

    Double opt-in exists to prove that whoever subscribes an address can read its mail. A session
    is only ever started by pressing Sign in on a link mailed to that same address (accounts/
    service.py `sign_in`), so the signed-in reader has just proved it; a second mail would prove it
    again. Pressing Subscribe on "Your email" is the consent, recorded as "signed-in" with its time
    in `confirmed_at`. A pending subscription (someone typed the address) is confirmed with the
    preferences the reader now sees; a confirmed one is left to `update_preferences`. None for an
    address that bounced: it is never mailed again.
    """
    address, key = normalize_email(email)
    if is_suppressed(conn=conn, email_key=key):
        return None
    row = repository.subscription_by_key(conn=conn, email_key=key)
    if row is not None and row["status"] == "confirmed":
        return from_row(row)
    values = {
        "email": address,
        "status": "confirmed",
        "updated_at": now,
        "confirmed_at": now,
        "pending_until": None,
        "left_at": None,
        "consent": CONSENT_SIGNED_IN,
        **prefs_values(prefs),
    }
    if row is None:
        sub_id = repository.add_subscription(
            conn=conn,
            values={"email_key": key, "link_salt": secrets.token_hex(16), "created_at": now, **values},
        )
    else:
        sub_id = int(row["id"])
        repository.update_subscription(conn=conn, subscription_id=sub_id, values=values)
        # A confirmation mail still on its way has nothing left to confirm.
        repository.delete_tokens(conn=conn, subscription_id=sub_id)
    return get(conn=conn, subscription_id=sub_id)


def unsubscribe(*, conn: Connection, subscription_id: int, now: datetime) -> None:
    """Stop all mail to the subscription now, including editions already composed but not sent."""
    repository.update_subscription(
        conn=conn,
        subscription_id=subscription_id,
        values={"status": "unsubscribed", "left_at": now, "updated_at": now, "pending_until": None},
        if_status=("pending", "confirmed"),
    )
    # An old confirmation mail must not bring the subscription back.
    repository.delete_tokens(conn=conn, subscription_id=subscription_id)
    repository.cancel_unsent(conn=conn, subscription_id=subscription_id, now=now)


def update_preferences(*, conn: Connection, subscription_id: int, prefs: Preferences, now: datetime) -> None:
    """Save new preferences; pausing cancels editions composed but not yet sent."""
    repository.update_subscription(
        conn=conn, subscription_id=subscription_id, values={"updated_at": now, **prefs_values(prefs)}
    )
    if prefs.paused:
        repository.cancel_unsent(conn=conn, subscription_id=subscription_id, now=now)


def suppress(*, conn: Connection, subscription_id: int, reason: str, detail: str, now: datetime) -> None:
    """Mark the subscription bounced and never mail its address again."""
    row = repository.subscription(conn=conn, subscription_id=subscription_id)
    if row is None:
        return
    repository.add_suppression(conn=conn, email_key=row["email_key"], reason=reason, detail=detail, now=now)
    repository.update_subscription(
        conn=conn,
        subscription_id=subscription_id,
        values={"status": "bounced", "left_at": now, "updated_at": now},
    )
    repository.cancel_unsent(conn=conn, subscription_id=subscription_id, now=now)


def purge_expired(*, conn: Connection, now: datetime) -> int:
    """Delete pending subscriptions never confirmed within PENDING_DAYS, expired tokens, stale counters."""
    return repository.purge_expired(conn=conn, now=now)


# -------------------------------------------------------------------------------------- signed links


def _signature(secret: str, purpose: LinkPurpose, subscription_id: int, salt: str) -> str:
    return sign(secret=secret, message=f"{purpose}|{subscription_id}|{salt}", chars=32)


def link_token(*, secret: str, subscription: Subscription, purpose: LinkPurpose) -> str:
    """The signed token of a preferences or unsubscribe link: `<id>.<signature>`."""
    sig = _signature(secret, purpose, subscription.id, subscription.link_salt)
    return f"{subscription.id}.{sig}"


def verify_link(*, conn: Connection, secret: str, token: str, purpose: LinkPurpose) -> Subscription | None:
    """The subscription a signed link names, if the signature is right; None otherwise."""
    head, _, sig = token.partition(".")
    subscription_id = whole_number(head, max_digits=12)
    if subscription_id is None or not sig:
        return None
    sub = get(conn=conn, subscription_id=subscription_id)
    if sub is None:
        return None
    expected = _signature(secret, purpose, sub.id, sub.link_salt)
    return sub if same(expected, sig) else None
