"""Messages as the mail room builds and writes them: the policy, the wire bytes, the shared headers
and parts, and the context every message needs (issue #5; shared by sign-in and the digest, #11).

Every message is built with the email package's `EmailMessage` under an SMTP policy, which refuses
a header value containing CR or LF: text from sources (titles) and users (addresses) cannot add a
header.
"""

from __future__ import annotations

import binascii
import functools
import re
from dataclasses import dataclass
from datetime import datetime
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from papertrend.config import Settings


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


def mail_context(settings: Settings) -> MailContext:
    """Mail context from the settings."""
    return MailContext(base_url=settings.base_url, mail_from=settings.mail_from, secret=settings.secret_key)


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


@functools.lru_cache(maxsize=1024)
def shared_header(name: str, value: str) -> BaseHeader:
    """A header whose value recurs across a run (the From, the day's subject and date), parsed once.

    Parsed as an assignment parses it, refusal of CR and LF included.
    """
    return MAIL_POLICY.header_store_parse(name, value)[1]  # type: ignore[no-any-return]


class AddressError(ValueError):
    """A recipient address a message cannot carry: not ASCII, or not read back as itself (#12)."""


def _set_to(msg: EmailMessage, to: str) -> None:
    """Write `to` as the one recipient, or AddressError.

    The header parser decodes RFC 2047 encoded words even inside an address, so a stored address
    could come out as another one, as two, or as CR/LF (#12); the addresses we write must read back
    as exactly the one given.
    """
    if not to.isascii() or "=?" in to:
        raise AddressError(f"recipient {to!r} is not a plain ASCII address")
    try:
        msg["To"] = to
    except ValueError as exc:  # CR or LF, after decoding
        raise AddressError(f"recipient {to!r} cannot be written: {exc}") from exc
    header = msg["To"]
    found = [str(a.addr_spec) for a in getattr(header, "addresses", ())]
    if found != [to]:
        raise AddressError(f"recipient {to!r} reads back as {found!r}")


def new_message(*, ctx: MailContext, to: str, subject: str, message_id: str, date_: datetime) -> EmailMessage:
    """A message with its Subject, From, To, Date and Message-ID set; parts are added after."""
    msg = EmailMessage(policy=MAIL_POLICY)
    # Each assignment goes through the policy's header parser, which raises on CR or LF.
    msg["Subject"] = shared_header("Subject", subject)
    msg["From"] = shared_header("From", ctx.mail_from)
    _set_to(msg, to)
    msg["Date"] = shared_header("Date", format_datetime(date_))
    msg["Message-ID"] = message_id
    return msg


@functools.lru_cache(maxsize=64)
def fixed_header(name: str, value: str) -> BaseHeader:
    """A header whose value is ours alone (no user or source text), parsed once and reused."""
    return MAIL_POLICY.header_factory(name, value)  # type: ignore[no-any-return]


# Safe as a constant: no line of a quoted-printable body can hold "=_" unencoded, and base64 lines
# never start with "--", so this boundary cannot occur inside a part.
BOUNDARY = "=_papertrend_alternative_=_"


def _part(subtype: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=MAIL_POLICY)
    part["Content-Type"] = fixed_header("Content-Type", f'text/{subtype}; charset="utf-8"')
    data = body.encode()
    if subtype == "plain":
        # Quoted-printable keeps the text part readable raw; binascii's encoder is C (the email
        # package's is pure Python, the slowest step of building a digest).
        part["Content-Transfer-Encoding"] = fixed_header("Content-Transfer-Encoding", "quoted-printable")
        part.set_payload(binascii.b2a_qp(data, istext=True).decode("ascii"))
    else:
        part["Content-Transfer-Encoding"] = fixed_header("Content-Transfer-Encoding", "base64")
        part.set_payload(_base64_lines(data))
    return part


def _base64_lines(data: bytes) -> str:
    """Base64 in lines of 76 characters, as `base64.encodebytes` writes it, in one C call and a
    slicing loop (encodebytes calls C once per 57 bytes)."""
    flat = binascii.b2a_base64(data, newline=False).decode("ascii")
    return "".join(flat[i : i + 76] + "\n" for i in range(0, len(flat), 76))


def alternative(msg: EmailMessage, *, text: str, html: str) -> EmailMessage:
    """Attach the text and the HTML (rendered from a CSS-inlined template) as multipart/alternative,
    plain text first."""
    msg["MIME-Version"] = fixed_header("MIME-Version", "1.0")
    msg["Content-Type"] = fixed_header("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    msg.set_payload([_part("plain", text), _part("html", html)])
    return msg
