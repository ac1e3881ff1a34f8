"""The query parameters' rules, as the OpenAPI schema states them and as the server applies them."""

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from papertrend.errors import BadRequest
from papertrend.web.params import AUTHOR_PATTERN, MAX_AUTHOR_CHARS, MAX_AUTHORS, parse_authors

_schema_valid_author = st.from_regex(AUTHOR_PATTERN, fullmatch=True).filter(
    lambda v: len(v) <= MAX_AUTHOR_CHARS
)


@given(values=st.lists(_schema_valid_author, max_size=MAX_AUTHORS))
def test_every_author_value_the_schema_allows_is_accepted(values: list[str]) -> None:
    # CI of stop 21: one value of six comma-separated names passed the schema and got a 400.
    names = parse_authors(values)
    assert all(name and name == name.strip() for name in names)


def test_a_value_lists_up_to_five_names_and_five_values_are_allowed() -> None:
    assert parse_authors(["Hinton, LeCun ,Bengio"]) == ("Hinton", "LeCun", "Bengio")
    many = [",".join(f"n{v}{i}" for i in range(MAX_AUTHORS)) for v in range(MAX_AUTHORS)]
    assert len(parse_authors(many)) == MAX_AUTHORS * MAX_AUTHORS


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (["a,b,c,d,e,f"], "lists at most 5 names (6 given)"),
        ([",,,,,"], "lists at most 5 names"),
        (["x"] * (MAX_AUTHORS + 1), "give at most 5 authors"),
        (["a\x00b"], "control characters"),
        (["a" * (MAX_AUTHOR_CHARS + 1)], "at most 100 characters"),
    ],
)
def test_what_the_schema_refuses_is_a_clear_400(values: list[str], message: str) -> None:
    with pytest.raises(BadRequest, match=re.escape(message)):
        parse_authors(values)
