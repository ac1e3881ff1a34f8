"""Console delivery: print each message, for trying things out (issue #5)."""

from __future__ import annotations

import sys
from email.message import EmailMessage
from typing import TextIO

from papertrend.mail.journal import Journal
from papertrend.mail.message import WIRE_POLICY
from papertrend.mail.protocol import message_id


class ConsoleMailer:
    """Print each message (for trying things out)."""

    name = "console"

    def __init__(self, *, stream: TextIO | None = None, journal: Journal | None = None) -> None:
        self.stream = stream
        self.journal = journal

    def send(self, message: EmailMessage) -> str:
        """Write the message to standard output."""
        mid = message_id(message)
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
