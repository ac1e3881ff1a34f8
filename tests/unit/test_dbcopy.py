"""The canonical row form `papertrend db copy` checksums (issue #6, item 4): what SQLite and PostgreSQL
hand back for the same data must hash the same, and different data must not."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import numpy as np
import pytest

from papertrend.dbcopy import checksum, normalise, row_bytes, sqlite_file_missing


def test_timestamps_are_compared_as_utc_instants() -> None:
    instant = datetime(2026, 3, 1, 7, 30, 15, 123456, tzinfo=UTC)
    paris = instant.astimezone(timezone(timedelta(hours=1)))
    naive = instant.replace(tzinfo=None)  # how SQLite keeps it, read without the type
    assert normalise(instant) == normalise(paris) == normalise(naive) == "2026-03-01T07:30:15.123456+00:00"
    assert normalise(instant) != normalise(instant + timedelta(microseconds=1))
    assert normalise(date(2026, 3, 1)) == "2026-03-01"


def test_json_ignores_key_order_but_not_values() -> None:
    assert normalise({"b": 1, "a": [1, {"y": 2, "x": 3}]}) == normalise({"a": [1, {"x": 3, "y": 2}], "b": 1})
    assert normalise({"a": [1, 2]}) != normalise({"a": [2, 1]})
    assert normalise(["x"]) != normalise("x")


def test_vectors_floats_and_the_rest() -> None:
    vector = np.array([0.1, -2.5], dtype="<f4").tobytes()
    assert normalise(vector) == normalise(memoryview(vector)) == normalise(bytearray(vector))
    assert normalise(np.array([0.1, -2.5000002], dtype="<f4").tobytes()) != normalise(vector)
    assert normalise(0.1) == "0.1" and normalise(0.1) != normalise(0.1 + 1e-17 * 10)
    assert normalise(Decimal("1.50")) == "1.50"
    assert [normalise(v) for v in (None, True, 3, "t")] == [None, True, 3, "t"]
    with pytest.raises(TypeError):
        normalise(object())


def test_checksum_counts_and_sees_order_and_boundaries() -> None:
    rows = [(1, "a", None), (2, "b", {"k": 1})]
    count, digest = checksum(rows)
    assert count == 2 and len(digest) == 64
    assert checksum(list(rows)) == (count, digest)
    assert checksum(reversed(rows))[1] != digest
    # A value moved between columns is another row, not the same bytes.
    assert row_bytes(("ab", "c")) != row_bytes(("a", "bc"))
    assert checksum([]) == (0, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


def test_a_missing_sqlite_file_is_noticed_before_opening_it() -> None:
    assert sqlite_file_missing("sqlite:////nonexistent/dir/papertrend.db")
    assert not sqlite_file_missing("sqlite://")
    assert not sqlite_file_missing("postgresql+psycopg://u@h/db")
