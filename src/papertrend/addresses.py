"""Email addresses typed into forms: validated once, the same way, for subscribing and sign-in (#4, #5)."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

from papertrend.errors import BadRequest

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class InvalidEmail(BadRequest):
    """An address we will not mail: malformed, or with characters no address has."""


def normalize_email(raw: str) -> tuple[str, str]:
    """(address as we will write it, its comparison key); InvalidEmail with a clear message otherwise."""
    text = raw.strip()
    if not text:
        raise InvalidEmail("Please enter your email address.")
    # Control characters (CR/LF above all) could forge mail headers: refuse before anything else.
    if _CONTROL.search(text) or len(text) > 254:
        raise InvalidEmail("That email address contains characters no address can have.")
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidEmail(f"That does not look like an email address: {exc}") from None
    return info.normalized, info.normalized.lower()
