"""The delivery journal: the latest try of each message, across day files, pruned (issue #5 item 6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from papertrend.mail.journal import Journal, JournalEntry


def test_journal_keeps_the_latest_try_of_each_message(tmp_path: Path) -> None:
    now = datetime(2026, 6, 23, 23, 59, tzinfo=UTC)
    journal = Journal(tmp_path, clock=lambda: now)
    for mid in ("<a@x>", "<b@x>", "<c@x>"):
        journal.write("P", mid)
    journal.write("D", "<a@x>")
    journal.write("R", "<a@x>", 451)
    journal.write("D", "<b@x>")
    (tmp_path / f"{now.date()}.log").open("a").write("2026-06-23T23:59 D <cut")  # a crash mid-line
    now += timedelta(minutes=2)  # the next day's file
    journal.write("P", "<a@x>")  # retried: the old reply no longer applies
    entries = journal.read()
    assert entries["<a@x>"] == JournalEntry(prepared=True, handed_off=False, code=None)
    assert entries["<b@x>"] == JournalEntry(prepared=True, handed_off=True, code=None)
    assert entries["<c@x>"] == JournalEntry(prepared=True, handed_off=False, code=None)
    assert "<cut" not in entries
    journal.write("D", "<a@x>")
    journal.write("R", "<a@x>", 250)
    assert journal.read()["<a@x>"] == JournalEntry(prepared=True, handed_off=True, code=250)
    journal.close()
    now += timedelta(days=40)
    journal.prune(keep_days=30)
    assert list(tmp_path.glob("*.log")) == []


def test_a_reply_code_in_other_digits_is_no_code(tmp_path: Path) -> None:
    # "²50" passes str.isdigit() but not int(): reading the journal was a ValueError.
    now = datetime(2026, 6, 23, 12, 0, tzinfo=UTC)
    journal = Journal(tmp_path, clock=lambda: now)
    journal.write("D", "<a@x>")
    journal.close()
    with (tmp_path / f"{now.date()}.log").open("a") as f:
        f.write("2026-06-23T12:00:00.000 R <a@x> \u00b250\n")
    assert journal.read()["<a@x>"] == JournalEntry(prepared=True, handed_off=True, code=None)
