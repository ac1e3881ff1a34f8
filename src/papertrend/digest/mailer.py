"""Mailers: one interface, `send(message) -> delivery_id`, and its backends (issue #5).

`PAPERTREND_MAIL_URL` picks the backend:

- `smtp://user:pass@host:587` — SMTP with STARTTLS. STARTTLS is required when credentials are given
  (a password never crosses the network in clear) and used when offered otherwise;
  `?starttls=required|opportunistic|off` overrides, `?cafile=PATH` trusts a private CA.
- `smtps://user:pass@host:465` — SMTP over TLS from the first byte.
- `maildir:///path` (or `maildir://./relative`) — each message a file in a Maildir, written with the
  `mailbox` module: the default for a single machine, browsable at /_mailbox.
- `console://` — print each message to standard output.

Failures are `SendError`s of three kinds: `temporary` (4xx replies, timeouts, a server that is down:
retry with backoff), `permanent` (5xx to RCPT or DATA: the recipient is refused; bounced after N),
and `fatal` (5xx to MAIL FROM, failed login, no STARTTLS: the configuration is wrong; stop the run).

Every backend writes a **journal** (`<data_dir>/mail-journal/YYYY-MM-DD.log`) the outbox reads after
a crash, three lines per message around its commit point (SMTP: the final "." of DATA; Maildir: the
move into `new/`): `P` just before it, `D` once it is done (the "." is in the kernel's socket buffer,
the file is in `new/`), and `R` with the server's reply. `D` is written only after the fact it
claims (issue #5: a `D` written before the "." once let a SIGKILL between the two lose a message).
See digest/outbox.py for the rule that turns these into "sent" or "send again".
"""

from __future__ import annotations

import contextlib
import logging
import mailbox
import os
import re
import smtplib
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr
from pathlib import Path
from typing import Literal, Protocol, TextIO, cast, runtime_checkable
from urllib.parse import parse_qs, unquote, urlsplit

from papertrend.digest.render import WIRE_POLICY, to_bytes

log = logging.getLogger("papertrend.mail")

ErrorKind = Literal["temporary", "permanent", "fatal"]
TlsMode = Literal["required", "opportunistic", "off"]
PausePoint = Literal["before_dot", "unjournaled_dot", "after_dot", "after_reply"]
JournalEvent = Literal["P", "D", "R"]
_QUEUED = re.compile(rb"queued as ([\w.@<>-]+)", re.IGNORECASE)
_LEADING_DOT = re.compile(rb"(?m)^\.")


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


# ------------------------------------------------------------------------------------------ journal


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """What the journal knows of one Message-ID's latest try: about to commit (`P`), committed (`D`:
    handed to the server), and the reply if one came (`R`)."""

    prepared: bool = False
    handed_off: bool = False
    code: int | None = None


class Journal:
    """Append-only log of delivery commit points, one file per UTC day, and of the senders that
    write them (`O` lines).

    Lines are single `write()`s to a file opened with O_APPEND, so they survive the process being
    killed (the kernel holds them) and lines of concurrent senders never interleave. The file stays
    open while the day lasts: the `D` line follows the final "." by one system call, not three.
    """

    def __init__(self, folder: Path, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.folder = folder
        self.clock = clock
        self._lock = threading.Lock()
        self._open: tuple[Path, int] | None = None

    def _path(self, day: date) -> Path:
        return self.folder / f"{day.isoformat()}.log"

    def line(self, event: JournalEvent, message_id: str, code: int | None = None) -> tuple[Path, bytes]:
        """One line, made ready before the instant it records so that writing it is one system call."""
        now = self.clock()
        text = f"{now.isoformat(timespec='milliseconds')} {event} {message_id} {code if code else '-'}\n"
        return self._path(now.date()), text.encode()

    def append(self, line: tuple[Path, bytes]) -> None:
        """Write a line made by `line()`."""
        path, data = line
        with self._lock:
            if self._open is None or self._open[0] != path:
                self._close_file()
                self.folder.mkdir(parents=True, exist_ok=True)
                self._open = (path, os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
            os.write(self._open[1], data)

    def write(self, event: JournalEvent, message_id: str, code: int | None = None) -> None:
        """Append one line: `P` (about to commit), `D` (committed) or `R` (the reply code)."""
        self.append(self.line(event, message_id, code))

    def sender(self, owner: str) -> None:
        """Note that the sender `owner` journals here (an `O` line), before it claims anything: recovery
        settles a dead sender's editions by this journal only if it wrote here (issue #6)."""
        now = self.clock()
        self.append(
            (self._path(now.date()), f"{now.isoformat(timespec='milliseconds')} O {owner} -\n".encode())
        )

    def _close_file(self) -> None:
        if self._open is not None:
            os.close(self._open[1])
            self._open = None

    def close(self) -> None:
        """Close the open file (lines already written are the kernel's: nothing is lost if never called)."""
        with self._lock:
            self._close_file()

    def _lines(self, days: int) -> Iterator[list[str]]:
        """The lines of the last `days` days, oldest first, each as its four fields."""
        today = self.clock().date()
        for back in range(days, -2, -1):  # oldest first; -1 covers a clock a day behind the files
            path = self._path(today - timedelta(days=back))
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                parts = line.split(" ")
                if len(parts) == 4:  # else a line cut short by a crash
                    yield parts

    def writers(self, *, days: int = 14) -> set[str]:
        """The senders (owner ids) that journaled here in the last `days` days."""
        return {parts[2] for parts in self._lines(days) if parts[1] == "O"}

    def read(self, *, days: int = 14) -> dict[str, JournalEntry]:
        """Entries of the last `days` days, by Message-ID: each one's latest try."""
        out: dict[str, JournalEntry] = {}
        for _, event, mid, code in self._lines(days):
            seen = out.get(mid, JournalEntry())
            if event == "P":
                # A new try (a retry) starts over: what it reached follows.
                out[mid] = JournalEntry(prepared=True)
            elif event == "D":
                out[mid] = JournalEntry(prepared=True, handed_off=True)
            elif event == "R" and code.isdigit():
                out[mid] = JournalEntry(prepared=seen.prepared, handed_off=seen.handed_off, code=int(code))
        return out

    def prune(self, *, keep_days: int = 30) -> None:
        """Delete files older than `keep_days`."""
        cutoff = self.clock().date() - timedelta(days=keep_days)
        for path in self.folder.glob("*.log"):
            try:
                if date.fromisoformat(path.stem) < cutoff:
                    path.unlink()
            except (ValueError, OSError):
                continue


class Pause:
    """Test hook: stop for good at the n-th message reaching a point, so a test can SIGKILL us there.

    Set by PAPERTREND_TEST_MAIL_PAUSE=`POINT:N`, POINT one of `before_dot` (`P` journaled, the
    message and its final "." not yet sent), `unjournaled_dot` (the "." sent, its `D` not yet
    journaled: the one window recovery cannot read, see digest/outbox.py), `after_dot` (`D`
    journaled, the reply not yet read: the server has accepted and nothing else is recorded) or
    `after_reply` (the reply journaled, the outbox not updated). PAPERTREND_TEST_MAIL_PAUSE_FILE
    names a file created when the pause starts.
    """

    def __init__(self, point: PausePoint, after: int, marker: Path | None) -> None:
        self.point, self.after, self.marker = point, after, marker
        self.count = 0
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls) -> Pause | None:
        spec = os.environ.get("PAPERTREND_TEST_MAIL_PAUSE")
        if not spec:
            return None
        point, _, n = spec.partition(":")
        if point not in ("before_dot", "unjournaled_dot", "after_dot", "after_reply"):
            raise ValueError(f"PAPERTREND_TEST_MAIL_PAUSE: unknown point {point!r}")
        marker = os.environ.get("PAPERTREND_TEST_MAIL_PAUSE_FILE")
        return cls(cast(PausePoint, point), int(n or 1), Path(marker) if marker else None)

    def hit(self, point: PausePoint) -> None:
        if point != self.point:
            return
        with self._lock:
            self.count += 1
            if self.count != self.after:
                return
            if self.marker is not None:
                self.marker.write_text(str(os.getpid()))
        while True:  # until killed
            time.sleep(60)


@contextlib.contextmanager
def _corked(sock: socket.socket | None) -> Iterator[None]:
    """Hold what is sent inside in the kernel (Linux TCP_CORK) until the block ends.

    A socket closed by the process dying still sends what is held (the kernel flushes it with the
    FIN), so data sent inside is committed even though it is not yet on the wire.
    """
    cork = getattr(socket, "TCP_CORK", None)
    if sock is None or cork is None:
        yield
        return
    sock.setsockopt(socket.IPPROTO_TCP, cork, 1)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, cork, 0)


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


def _envelope(message: EmailMessage) -> tuple[str, list[str]]:
    senders = _addresses(message.get_all("From", []))
    sender = senders[0] if senders else parseaddr(str(message.get("From", "")))[1]
    rcpts = _addresses(message.get_all("To", []))
    if not sender or not rcpts:
        raise SendError("fatal", "a message needs a From and a To address")
    return sender, rcpts


def _message_id(message: EmailMessage) -> str:
    mid = str(message.get("Message-ID", "")).strip()
    if not mid:
        raise SendError("fatal", "a message needs a Message-ID")
    return mid


# --------------------------------------------------------------------------------------------- SMTP


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
    return Submitted(_message_id(message), mailer.send(message))


def finish(mailer: Mailer, submitted: Submitted) -> str:
    """The delivery id of a submitted message (reading the reply where one is due)."""
    if submitted.delivered is not None:
        return submitted.delivered
    if not isinstance(mailer, Staged):
        raise TypeError(f"{mailer.name} finished its messages on submit")
    return mailer.finish(submitted)


class SmtpMailer:
    """SMTP with STARTTLS or implicit TLS; one connection, reused across messages.

    The commit point of a message is its final "." (RFC 5321 §4.1.1.4): a server accepts what it
    read up to the dot whether or not we live to read its reply. So the journal says `P` before the
    message's content and dot are written to the socket and `D` only after that write returned
    (issue #5). See digest/outbox.py for how recovery reads these lines.
    """

    name = "smtp"

    def __init__(
        self,
        *,
        host: str,
        port: int,
        implicit_tls: bool = False,
        tls: TlsMode = "opportunistic",
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        cafile: str | None = None,
        journal: Journal | None = None,
        pause: Pause | None = None,
    ) -> None:
        self.host, self.port, self.implicit_tls, self.tls = host, port, implicit_tls, tls
        self.username, self.password, self.timeout, self.cafile = username, password, timeout, cafile
        self.journal, self.pause = journal, pause
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0
        self._waiting: str | None = None  # the Message-ID whose reply to the final "." is unread

    def _context(self) -> ssl.SSLContext:
        # Certificates and host names are always verified; `cafile` adds a private CA to trust.
        return ssl.create_default_context(cafile=self.cafile)

    def _connect(self) -> smtplib.SMTP:
        smtp: smtplib.SMTP | None = None
        where = f"{self.host}:{self.port}"
        try:
            if self.implicit_tls:
                smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._context())
                smtp.ehlo()
            else:
                smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
                smtp.ehlo()
                if self.tls != "off" and smtp.has_extn("starttls"):
                    smtp.starttls(context=self._context())
                    smtp.ehlo()
                elif self.tls == "required":
                    raise SendError("fatal", f"{where} does not offer STARTTLS, which these settings require")
            if smtp.sock is not None:
                # Commands and the final "." are small writes each awaiting a reply: with Nagle's
                # algorithm they wait on the server's delayed ACK, about 40 ms per message.
                smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.username:
                smtp.login(self.username, self.password or "")
        except SendError:
            self._quietly_close(smtp)
            raise
        except ssl.SSLCertVerificationError as exc:
            # A configuration error, not an outage: retrying cannot make the certificate trusted.
            self._quietly_close(smtp)
            raise SendError(
                "fatal",
                f"TLS certificate of {where} not trusted ({exc.verify_message}); "
                "for a private CA add ?cafile=PATH to PAPERTREND_MAIL_URL",
            ) from exc
        except smtplib.SMTPAuthenticationError as exc:
            self._quietly_close(smtp)
            reply = (
                exc.smtp_error.decode(errors="replace")
                if isinstance(exc.smtp_error, bytes)
                else exc.smtp_error
            )
            raise SendError(
                "fatal", f"SMTP login to {where} as {self.username!r} refused: {exc.smtp_code} {reply}"
            ) from exc
        except smtplib.SMTPNotSupportedError as exc:
            self._quietly_close(smtp)
            raise SendError("fatal", f"{where}: {exc} (the mail URL has a user name)") from exc
        except (OSError, smtplib.SMTPException) as exc:
            self._quietly_close(smtp)
            raise SendError("temporary", f"cannot reach {where}: {exc}", connection=True) from exc
        self._sent_on_connection = 0
        return smtp

    @staticmethod
    def _quietly_close(smtp: smtplib.SMTP | None) -> None:
        if smtp is not None:
            with contextlib.suppress(Exception):
                smtp.close()

    def _drop(self) -> None:
        self._quietly_close(self._smtp)
        self._smtp = None
        self._waiting = None

    def _reset(self) -> None:
        # After a refusal the transaction is reset so the connection can carry the next message.
        if self._smtp is None:
            return
        try:
            self._smtp.rset()
        except (OSError, smtplib.SMTPException):
            self._drop()

    def _refused(self, stage: str, code: int, reply: bytes, *, recipient: bool) -> SendError:
        text = f"{stage} refused: {code} {reply.decode(errors='replace')}"
        if code == 421:  # the server is closing the connection
            self._drop()
        else:
            self._reset()
        if 500 <= code < 600:
            return SendError("permanent" if recipient else "fatal", text, code=code)
        return SendError("temporary", text, code=code)

    def _mark(self, event: JournalEvent, mid: str, code: int | None = None) -> None:
        if self.journal is not None:
            self.journal.write(event, mid, code)

    def send(self, message: EmailMessage) -> str:
        """Deliver over SMTP and wait for the reply."""
        return self.finish(self.submit(message))

    def submit(self, message: EmailMessage) -> Submitted:
        """Envelope, DATA, then the content and its final "." in one write, journaled `P` before it
        and `D` after it; the reply to the dot is left for `finish`."""
        if self._waiting is not None:
            raise RuntimeError("finish() the previous message before submitting another")
        sender, rcpts = _envelope(message)
        mid = _message_id(message)
        data = to_bytes(message)
        content = _LEADING_DOT.sub(b"..", data)
        if not content.endswith(b"\r\n"):
            content += b"\r\n"
        for attempt in (0, 1):
            reused = self._smtp is not None and self._sent_on_connection > 0
            if self._smtp is None:
                self._smtp = self._connect()
            smtp = self._smtp
            try:
                # MAIL and RCPT by hand: smtplib's would parse each address again. No options are
                # sent, as smtplib sends none without them.
                smtp.putcmd("mail", f"FROM:<{sender}>")
                code, reply = smtp.getreply()
                if code != 250:
                    raise self._refused("MAIL FROM", code, reply, recipient=False)
                for rcpt in rcpts:
                    smtp.putcmd("rcpt", f"TO:<{rcpt}>")
                    code, reply = smtp.getreply()
                    if code not in (250, 251):
                        raise self._refused("RCPT TO", code, reply, recipient=True)
                smtp.putcmd("data")
                code, reply = smtp.getreply()
                if code != 354:
                    raise self._refused("DATA", code, reply, recipient=True)
            except (OSError, smtplib.SMTPServerDisconnected) as exc:
                self._drop()
                # A connection kept open between messages may have been closed by the server's idle
                # timeout: nothing was handed over yet, so one fresh connection is tried at once.
                if attempt == 0 and reused:
                    continue
                raise SendError("temporary", f"connection lost before DATA: {exc}", connection=True) from exc
            break
        try:
            # The content first, on its own: without the final "." the server cannot accept it.
            smtp.send(content)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise SendError("temporary", f"connection lost during DATA: {exc}") from exc
        self._mark("P", mid)
        if self.pause is not None:
            self.pause.hit("before_dot")
        committed = self.journal.line("D", mid) if self.journal is not None else None
        try:
            with _corked(smtp.sock):
                # The dot goes into the kernel but not yet onto the wire (TCP_CORK): the server,
                # often on this host, cannot store the message and win the race against our `D`
                # line, as it could while we waited to be scheduled again after waking it. Were we
                # killed now, closing the socket would still send the dot: a duplicate, never a loss.
                smtp.send(b".\r\n")
                if self.pause is not None:
                    self.pause.hit("unjournaled_dot")
                if committed is not None and self.journal is not None:
                    self.journal.append(committed)
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            self._drop()
            raise SendError("temporary", f"connection lost at the final dot: {exc}") from exc
        if self.pause is not None:
            self.pause.hit("after_dot")
        self._waiting = mid
        return Submitted(mid)

    def finish(self, submitted: Submitted) -> str:
        """Read the reply to the final "." of a submitted message and journal it (`R`)."""
        mid = submitted.message_id
        smtp = self._smtp
        if smtp is None or self._waiting != mid:
            raise SendError("temporary", f"connection lost before the reply to {mid}")
        try:
            code, reply = smtp.getreply()
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            # The server has the dot and may have accepted: sending again risks a duplicate, which
            # the stable Message-ID lets mail clients recognise (docs/email.md, "The crash rule").
            self._drop()
            raise SendError("temporary", f"connection lost after the final dot: {exc}") from exc
        self._waiting = None
        self._mark("R", mid, code)
        if self.pause is not None:
            self.pause.hit("after_reply")
        if code != 250:
            raise self._refused("end of DATA", code, reply, recipient=True)
        self._sent_on_connection += 1
        queued = _QUEUED.search(reply)
        return f"smtp:{queued.group(1).decode()}" if queued else f"smtp:{mid}"

    def lookup(self, message_id: str) -> bool | None:
        """SMTP cannot ask a server what it accepted: the journal decides."""
        return None

    def close(self) -> None:
        """QUIT politely, if connected."""
        if self._smtp is not None:
            with contextlib.suppress(Exception):
                self._smtp.quit()
            self._drop()


# ---------------------------------------------------------------------------------- maildir, console


class MaildirMailer:
    """Each message a file in a Maildir (`mailbox` module): atomic, and browsable at /_mailbox."""

    name = "maildir"

    def __init__(self, path: Path, *, journal: Journal | None = None) -> None:
        self.path = path
        self.journal = journal
        self._box: mailbox.Maildir | None = None

    @property
    def box(self) -> mailbox.Maildir:
        if self._box is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._box = mailbox.Maildir(self.path, create=True)
        return self._box

    def send(self, message: EmailMessage) -> str:
        """Write the message into new/ (written to tmp/ first, then moved: all or nothing)."""
        mid = _message_id(message)
        _envelope(message)
        data = to_bytes(message)
        if self.journal is not None:
            self.journal.write("P", mid)
        try:
            key = self.box.add(data)
        except OSError as exc:
            raise SendError("temporary", f"cannot write to {self.path}: {exc}") from exc
        if self.journal is not None:
            self.journal.write("D", mid)
            self.journal.write("R", mid, 250)
        return f"maildir:{key}"

    def lookup(self, message_id: str) -> bool | None:
        """Whether a message with this Message-ID is in the Maildir: exact, so no journal guess."""
        needle = re.compile(rb"^message-id:\s*" + re.escape(message_id.encode()) + rb"\s*$", re.I | re.M)
        for sub in ("new", "cur"):
            folder = self.path / sub
            if not folder.is_dir():
                continue
            for entry in os.scandir(folder):
                try:
                    with open(entry.path, "rb") as fh:
                        head = fh.read(65536).split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]
                except OSError:
                    continue
                if needle.search(head):
                    return True
        return False

    def close(self) -> None:
        """Nothing to release."""
        self._box = None


class ConsoleMailer:
    """Print each message (for trying things out)."""

    name = "console"

    def __init__(self, *, stream: TextIO | None = None, journal: Journal | None = None) -> None:
        self.stream = stream
        self.journal = journal

    def send(self, message: EmailMessage) -> str:
        """Write the message to standard output."""
        mid = _message_id(message)
        out = self.stream or sys.stdout
        if self.journal is not None:
            self.journal.write("P", mid)
        out.write(message.as_string(policy=WIRE_POLICY.clone(linesep="\n")) + "\n" + "-" * 72 + "\n")
        out.flush()
        if self.journal is not None:
            self.journal.write("D", mid)
            self.journal.write("R", mid, 250)
        return f"console:{mid}"

    def lookup(self, message_id: str) -> bool | None:
        """A terminal keeps no record."""
        return None

    def close(self) -> None:
        """Nothing to release."""


# ------------------------------------------------------------------------------------------ factory


def maildir_path(url: str) -> Path | None:
    """The folder of a `maildir://` URL, or None for another scheme."""
    if not url.startswith("maildir://"):
        return None
    rest = unquote(url[len("maildir://") :])
    return Path(rest).expanduser() if rest else Path("./var/mail")


def make_mailer(
    url: str, *, journal: Journal | None = None, timeout: float = 30.0, pause: Pause | None = None
) -> Mailer:
    """The backend a mail URL names; ValueError for one we do not know."""
    path = maildir_path(url)
    if path is not None:
        return MaildirMailer(path, journal=journal)
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme == "console":
        return ConsoleMailer(journal=journal)
    if scheme in ("smtp", "smtps"):
        if not parts.hostname:
            raise ValueError(
                f"mail URL {scheme}://… needs a host, e.g. {scheme}://user:pass@smtp.example.org"
            )
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        username = unquote(parts.username) if parts.username else None
        tls = query.get("starttls", "required" if username else "opportunistic")
        if tls not in ("required", "opportunistic", "off"):
            raise ValueError("starttls= must be required, opportunistic or off")
        return SmtpMailer(
            host=parts.hostname,
            port=parts.port or (465 if scheme == "smtps" else 587),
            implicit_tls=scheme == "smtps",
            tls=cast(TlsMode, tls),
            username=username,
            password=unquote(parts.password) if parts.password else None,
            timeout=float(query.get("timeout", timeout)),
            cafile=query.get("cafile"),
            journal=journal,
            pause=pause,
        )
    raise ValueError(f"unknown mail URL {url!r}: use smtp://, smtps://, maildir:// or console://")


def describe(url: str) -> str:
    """The mail URL with any password hidden, for logs."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return url


class RateLimiter:
    """At most `rate` events per second across threads; 0 means no limit."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self.clock, self.sleep = clock, sleep
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Block until the next event may happen."""
        if not self.interval:
            return
        with self._lock:
            now = self.clock()
            at = max(now, self._next)
            self._next = at + self.interval
        if at > now:
            self.sleep(at - now)
