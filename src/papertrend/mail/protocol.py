"""What every mail backend is: `Mailer`, its `SendError`s, and the envelope of a message (issue #11)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from typing import Literal, Protocol, runtime_checkable

# temporary: retry with backoff; permanent: the recipient's server refused (bounced after N);
# fatal: the configuration is wrong (stop the run); invalid: this message can never be sent as it is,
# its recipient address cannot be written (#12): failed at once, and the run goes on.
ErrorKind = Literal["temporary", "permanent", "fatal", "invalid"]


class SendError(Exception):
    """A message was not delivered; `kind` says whether to retry, bounce, or stop."""

    def __init__(self, kind: ErrorKind, message: str, *, code: int | None = None, connection: bool = False):
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.code = code
        # True when the server could not be reached at all: the rest of the run would fail the same way.
        self.connection = connection


class Mailer(Protocol):
    """Delivers one message at a time."""

    name: str

    def send(self, message: EmailMessage) -> str:
        """Deliver; return an id for the delivery (the server's queue id where it says one)."""
        ...

    def lookup(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID was delivered; None when the backend cannot tell."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def _addresses(values: list[object]) -> list[str]:
    out: list[str] = []
    for value in values:
        # Headers made under an EmailPolicy are parsed already; re-parsing the text with email.utils
        # cost a tenth of a digest's delivery (issue #5).
        parsed = getattr(value, "addresses", None)
        if parsed is not None:
            out.extend(str(a.addr_spec) for a in parsed if a.addr_spec and a.addr_spec != "<>")
        else:
            out.extend(addr for _, addr in getaddresses([str(value)]) if addr)
    return out


def envelope(message: EmailMessage) -> tuple[str, list[str]]:
    """(sender, recipients) of a message, from its From and To headers.

    A recipient that is not ASCII is refused here, for every backend (#12): Papertrend sends no
    SMTPUTF8 mail, and such an address once raised UnicodeEncodeError out of smtplib, crashing the run.
    """
    senders = _addresses(message.get_all("From", []))
    sender = senders[0] if senders else parseaddr(str(message.get("From", "")))[1]
    rcpts = _addresses(message.get_all("To", []))
    if not sender or not rcpts:
        raise SendError("fatal", "a message needs a From and a To address")
    if not sender.isascii():
        raise SendError("fatal", f"the sender {sender!r} (PAPERTREND_MAIL_FROM) is not an ASCII address")
    for rcpt in rcpts:
        if not rcpt.isascii():
            raise SendError(
                "invalid", f"recipient {rcpt!r} is not an ASCII address (no SMTPUTF8 mail is sent)"
            )
    return sender, rcpts


def message_id(message: EmailMessage) -> str:
    """The Message-ID of a message; every message Papertrend sends has one."""
    mid = str(message.get("Message-ID", "")).strip()
    if not mid:
        raise SendError("fatal", "a message needs a Message-ID")
    return mid


@dataclass(frozen=True, slots=True)
class Submitted:
    """A message handed to a backend: its reply is read by `finish` (SMTP), or came at once."""

    message_id: str
    delivered: str | None = None  # the delivery id, when the backend finished on `submit`


@runtime_checkable
class Staged(Protocol):
    """A mailer whose delivery has two halves: hand the message over, then read the reply.

    The sender renders the next message between the two, while the server stores this one
    (issue #5: the reply wait was half of the time of a digest).
    """

    def submit(self, message: EmailMessage) -> Submitted:
        """Hand the message over up to its commit point, journaled; the reply is still unread."""
        ...

    def finish(self, submitted: Submitted) -> str:
        """Read the reply of a submitted message; its delivery id, or a SendError."""
        ...


def submit(mailer: Mailer, message: EmailMessage) -> Submitted:
    """Hand a message to any backend: in two halves where it has them, else all at once."""
    if isinstance(mailer, Staged):
        return mailer.submit(message)
    return Submitted(message_id(message), mailer.send(message))


def finish(mailer: Mailer, submitted: Submitted) -> str:
    """The delivery id of a submitted message (reading the reply where one is due)."""
    if submitted.delivered is not None:
        return submitted.delivered
    if not isinstance(mailer, Staged):
        raise TypeError(f"{mailer.name} finished its messages on submit")
    return mailer.finish(submitted)
