"""The delivery journal: commit points of each message, read by the outbox after a crash (issue #5).

See papertrend/mail/__init__.py for the three lines per message and digest/outbox.py for the rule
that turns them into "sent" or "send again".
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Literal

from papertrend.numbers import whole_number

JournalEvent = Literal["P", "D", "R"]


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
            elif event == "R" and (number := whole_number(code)) is not None:
                out[mid] = JournalEntry(prepared=seen.prepared, handed_off=seen.handed_off, code=number)
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
