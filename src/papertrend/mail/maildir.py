"""Maildir delivery: each message a file, written with the `mailbox` module (issue #5)."""

from __future__ import annotations

import mailbox
import os
import re
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import unquote

from papertrend.mail.journal import Journal
from papertrend.mail.message import to_bytes
from papertrend.mail.protocol import SendError, envelope, message_id


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
        mid = message_id(message)
        envelope(message)
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


def maildir_path(url: str) -> Path | None:
    """The folder of a `maildir://` URL, or None for another scheme."""
    if not url.startswith("maildir://"):
        return None
    rest = unquote(url[len("maildir://") :])
    return Path(rest).expanduser() if rest else Path("./var/mail")
