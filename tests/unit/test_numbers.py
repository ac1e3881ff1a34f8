"""`numbers.whole_number`: ASCII digits only, so "²" (which `str.isdigit()` accepts and `int()` refuses)
is None, not a ValueError that became a 500 on /unsubscribe/²3.sig."""

from __future__ import annotations

import pytest

from papertrend.numbers import MAX_DIGITS, whole_number


@pytest.mark.parametrize(
    ("text", "number"), [("0", 0), ("12", 12), ("0042", 42), ("9" * MAX_DIGITS, 10**MAX_DIGITS - 1)]
)
def test_ascii_digits_are_their_number(text: str, number: int) -> None:
    assert whole_number(text) == number


@pytest.mark.parametrize(
    "text",
    [
        "",
        "²",
        "³3",
        "1²",
        "\u0663",
        "\uff11",
        " 1",
        "1 ",
        "-1",
        "+1",
        "1.0",
        "1_000",
        "0x1f",
        "9" * (MAX_DIGITS + 1),
    ],
)
def test_anything_else_is_none(text: str) -> None:
    assert whole_number(text) is None


def test_max_digits_bounds_the_length() -> None:
    assert whole_number("123", max_digits=3) == 123
    assert whole_number("1234", max_digits=3) is None
