"""Whole numbers read from text someone else wrote: an address, a form, a header, a feed, a file.

`str.isdigit()` is also true for "²", "³" and the other Unicode digits that `int()` refuses with a
ValueError: an unsubscribe link "/unsubscribe/²3.sig" was a 500 (tests/integration/
test_web_hostile_addresses.py found it). Every such check goes through `whole_number`.
"""

from __future__ import annotations

# 18 digits always fit a signed 64-bit column (PostgreSQL's bigint): a longer number is no row id.
MAX_DIGITS = 18


def whole_number(text: str, *, max_digits: int = MAX_DIGITS) -> int | None:
    """The number `text` spells in ASCII digits 0-9 alone (at most `max_digits` of them), or None."""
    if not text or len(text) > max_digits or not text.isascii() or not text.isdigit():
        return None
    return int(text)
