"""SMTP delivery: STARTTLS or implicit TLS, one connection reused, the final "." journaled (issue #5)."""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, cast

from papertrend.mail.journal import Journal, JournalEvent
from papertrend.mail.message import to_bytes
from papertrend.mail.protocol import SendError, Submitted, envelope, message_id

TlsMode = Literal["required", "opportunistic", "off"]
PausePoint = Literal["before_dot", "unjournaled_dot", "after_dot", "after_reply"]
_QUEUED = re.compile(rb"queued as ([\w.@<>-]+)", re.IGNORECASE)


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
        sender, rcpts = envelope(message)
        mid = message_id(message)
        data = to_bytes(message)
        # Dot-stuffing (RFC 5321 4.5.2) as smtplib's `(?m)^\.` sub, by bytes.replace: a regex with no
        # literal prefix tries `^` at every byte, 211 µs for a 41 KB digest against 71 µs (6% of a
        # 10,000-digest run's samples under py-spy).
        content = data.replace(b"\n.", b"\n..")
        if content.startswith(b"."):
            content = b"." + content
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
