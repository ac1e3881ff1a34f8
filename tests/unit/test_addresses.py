"""The one address normaliser: what it accepts reads back as itself in a `To:` header (issue #12)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertrend.addresses import MAX_LENGTH, MAX_LOCAL, InvalidEmail, normalize_email
from papertrend.mail.message import AddressError, MailContext, new_message

CTX = MailContext(base_url="https://papers.example.org", mail_from="Papertrend <d@example.org>", secret="s")
ATEXT = string.ascii_letters + string.digits + "!#$%&'*+-/=?^_`{|}~"


def writes_back(address: str) -> bool:
    """Whether a message to `address` has exactly that one recipient."""
    from datetime import UTC, datetime

    msg = new_message(ctx=CTX, to=address, subject="s", message_id="<m@x>", date_=datetime.now(UTC))
    return [str(a.addr_spec) for a in msg["To"].addresses] == [address]


@pytest.mark.parametrize(
    "raw",
    [
        "=?utf-8?q?victim7?=@example.org",
        "=?UTF-8?Q?victim7?=@example.org",
        "=?utf-8?b?dmljdGltNw==?=@example.org",
        "=?utf-8?q?a=40evil.org=2C_b3?=@example.org",
        "=?us-ascii?q?x=0D=0ABcc=3A_c=40evil.org?=@example.org",
    ],
)
def test_encoded_words_are_refused(raw: str) -> None:
    with pytest.raises(InvalidEmail, match="encoded word"):
        normalize_email(raw)


def test_a_non_ascii_local_part_is_refused_clearly() -> None:
    with pytest.raises(InvalidEmail, match="plain ASCII"):
        normalize_email("ü@exämple.org")


def test_an_internationalised_domain_is_written_as_idna_and_keyed_once() -> None:
    typed = normalize_email("user@exämple.org")
    puny = normalize_email("user@xn--exmple-cua.org")
    assert typed.address == puny.address == "user@xn--exmple-cua.org"
    assert typed.key == puny.key
    assert writes_back(typed.address)


def test_the_local_part_holds_at_most_64_characters() -> None:
    assert normalize_email("a" * 64 + "@example.org").address == "a" * 64 + "@example.org"
    with pytest.raises(InvalidEmail):
        normalize_email("a" * 65 + "@example.org")


def test_the_whole_address_holds_at_most_254_characters() -> None:
    domain = ".".join(["d" * 60] * 4)[:240] + ".org"
    with pytest.raises(InvalidEmail):
        normalize_email("a" * 20 + "@" + domain)


def test_spellings_of_one_address_share_a_key() -> None:
    assert normalize_email("  Reader@Example.ORG ").key == normalize_email("reader@example.org").key


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_anything_typed_is_refused_or_written_back_exactly(raw: str) -> None:
    try:
        address, key = normalize_email(raw)
    except InvalidEmail:
        return
    assert address.isascii() and "=?" not in address
    assert not any(c in address for c in "\r\n\x00")
    local, _, _ = address.rpartition("@")
    assert 0 < len(local) <= MAX_LOCAL and len(address) <= MAX_LENGTH
    assert key == address.lower()
    assert writes_back(address)


@settings(max_examples=300, deadline=None)
@given(
    local=st.text(alphabet=ATEXT, min_size=1, max_size=70),
    charset=st.sampled_from(["utf-8", "UTF-8", "us-ascii", "iso-8859-1"]),
    encoding=st.sampled_from("qQbB"),
    payload=st.text(alphabet=string.ascii_letters + "=_0123456789ABCDEF", max_size=30),
    crlf=st.sampled_from(["", "\r\n", "\n", "\r", "=0D=0A"]),
)
def test_addresses_built_from_encoded_words_and_line_breaks(
    local: str, charset: str, encoding: str, payload: str, crlf: str
) -> None:
    raw = f"=?{charset}?{encoding}?{payload}{crlf}?={local}@example.org"
    with pytest.raises(InvalidEmail):
        normalize_email(raw)
    plain = f"{local}{crlf}@example.org"
    try:
        address, _ = normalize_email(plain)
    except InvalidEmail:
        return
    assert crlf in ("", "=0D=0A")  # a real line break is never accepted
    assert "\r" not in address and "\n" not in address and writes_back(address)


@given(st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFF), min_size=1, max_size=10))
def test_any_non_ascii_local_part_is_refused(local: str) -> None:
    with pytest.raises(InvalidEmail):
        normalize_email(f"{local}@example.org")


@pytest.mark.parametrize(
    "to",
    [
        "=?utf-8?q?a=40evil.org=2C_b3?=@example.org",
        "=?us-ascii?q?x=0D=0ABcc=3A_c=40evil.org?=@example.org",
        "ü@exämple.org",
    ],
)
def test_a_message_refuses_a_recipient_that_does_not_read_back(to: str) -> None:
    # Addresses stored before the normaliser refused them still never reach a header (#12).
    with pytest.raises(AddressError):
        writes_back(to)
