"""Email addresses typed into forms: normalised once, the same way, for every path that takes one
(subscribing, sign-in; issues #4, #5, #12).

An address is what we will write into `To:` and the SMTP envelope, byte for byte, so it must read
back as itself:

- no RFC 2047 encoded words (`=?utf-8?q?…?=`): RFC 2047 §5 keeps them out of an addr-spec, yet the
  email package decodes them when it parses a `To:` header, which turned one stored address into
  another, into two (`a@evil.org, b@…`), or into a CR/LF error (#12);
- ASCII only before the @: Papertrend does not send SMTPUTF8 mail, so an internationalised local
  part is refused with a clear message rather than accepted and never delivered (#12); a domain may
  be internationalised and is written in its ASCII (IDNA, `xn--…`) form, so `user@exämple.org` and
  `user@xn--exmple-cua.org` are one address;
- at most 64 characters before the @ and 254 in all (RFC 5321 §4.5.3.1).

The comparison key (lower case) is what subscriptions, accounts and rate limits are keyed by, so
spellings of one mailbox share one allowance.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from email_validator import EmailNotValidError, validate_email

from papertrend.errors import BadRequest

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_LENGTH = 254  # RFC 5321 §4.5.3.1.3, less the angle brackets of a path
MAX_LOCAL = 64  # RFC 5321 §4.5.3.1.1


class InvalidEmail(BadRequest):
    """An address we will not mail: malformed, or with characters no address has."""


class Address(NamedTuple):
    """A normalised address: as we write it (ASCII), and its comparison key."""

    address: str
    key: str


def normalize_email(raw: str) -> Address:
    """(address as we will write it, its comparison key); InvalidEmail with a clear message otherwise."""
    text = raw.strip()
    if not text:
        raise InvalidEmail("Please enter your email address.")
    # Control characters (CR/LF above all) could forge mail headers: refuse before anything else.
    if _CONTROL.search(text):
        raise InvalidEmail("That email address contains characters no address can have.")
    if len(text) > MAX_LENGTH:
        raise InvalidEmail(f"That email address is too long (at most {MAX_LENGTH} characters).")
    local = text.rpartition("@")[0]
    if "=?" in local:
        raise InvalidEmail(
            "That email address contains an encoded word (=?…?=), which mail would read as another "
            "address. Please type the address itself."
        )
    if not local.isascii():
        raise InvalidEmail(
            "Papertrend can only send to addresses whose part before the @ is plain ASCII "
            "(letters a-z, digits, and . _ - +)."
        )
    try:
        # strict: the 64-character limit of the part before the @ (#12: 65 were accepted).
        info = validate_email(text, check_deliverability=False, allow_smtputf8=False, strict=True)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"That does not look like an email address: {exc}") from None
    # The ASCII form: an internationalised domain as IDNA, which every mail server takes.
    address = info.ascii_email
    if address is None or not address.isascii() or "=?" in address:
        raise InvalidEmail("That email address cannot be written in plain ASCII.")
    if len(address) > MAX_LENGTH or len(address.rpartition("@")[0]) > MAX_LOCAL:
        raise InvalidEmail(f"That email address is too long (at most {MAX_LENGTH} characters).")
    return Address(address, address.lower())
