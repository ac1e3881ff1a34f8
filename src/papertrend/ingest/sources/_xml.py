"""Namespace-tolerant XML helpers shared by the arXiv sources.

They match elements by local name, because some recorded OAI samples put `<arXiv>` in no namespace
(or in the envelope's), and the API's 2016 and 2026 response styles declare namespaces differently.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from papertrend.errors import SourceError
from papertrend.ingest.base import clean_text


def local_name(tag: Any) -> str:
    """`{namespace}name` → `name`; a non-string tag (comment, processing instruction) → ""."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def children(el: ET.Element, name: str) -> list[ET.Element]:
    """Direct children called `name` in any namespace, or none."""
    return [c for c in el if local_name(c.tag) == name]


def child(el: ET.Element | None, name: str) -> ET.Element | None:
    """The first direct child called `name` in any namespace."""
    if el is None:
        return None
    for c in el:
        if local_name(c.tag) == name:
            return c
    return None


def descendants(el: ET.Element, name: str) -> Iterator[ET.Element]:
    """Every element below `el` (and `el` itself) called `name` in any namespace."""
    return (e for e in el.iter() if local_name(e.tag) == name)


# A character that UTF-8's lead byte becomes when decoded as Latin-1/cp1252, followed by one that a
# continuation byte becomes: "Ã¼" for "ü", "Ï‰" for "ω".
_MOJIBAKE = re.compile(
    "[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]"
)


def _as_byte(ch: str) -> int:
    if ord(ch) < 0x100:
        return ord(ch)
    return ch.encode("cp1252")[0]  # raises UnicodeEncodeError for a character cp1252 lacks


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 that was decoded as Latin-1/cp1252 upstream ("Dirk WÃ¼bben" → "Dirk Wübben").

    The recorded 2026 API responses carry such names. Text that is not wholly re-encodable, or whose
    bytes are not valid UTF-8, is returned unchanged, so correct text is never touched.
    """
    if not _MOJIBAKE.search(text):
        return text
    try:
        return bytes(_as_byte(ch) for ch in text).decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text


def child_text(el: ET.Element | None, name: str) -> str:
    """Whitespace-collapsed text of the first child called `name`, or ""."""
    found = child(el, name)
    if found is None:
        return ""
    # Repair before collapsing whitespace: "à" garbled is "Ã" + U+00A0, which split() would eat.
    return clean_text(repair_mojibake("".join(found.itertext())))


def parse_xml(payload: bytes | str, *, origin: str, root: str) -> ET.Element:
    """Parse a response body whose root element must be `root`; SourceError naming `origin` if not."""
    try:
        element = ET.fromstring(payload)
    except ET.ParseError as exc:
        raise SourceError(f"{origin}: malformed XML ({exc})") from exc
    if local_name(element.tag) != root:
        # An HTML error page or a proxy's login page can come back with 200: say what we got.
        raise SourceError(f"{origin}: expected <{root}>, got <{local_name(element.tag)}>")
    return element
