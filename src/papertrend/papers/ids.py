"""Canonical arXiv identifiers: every accepted spelling maps to one key plus an optional version."""

from __future__ import annotations

import re
from dataclasses import dataclass

from papertrend.errors import InvalidPaperId

# New style (April 2007 on): YYMM.NNNN until 2014, YYMM.NNNNN from 2015.
_NEW = re.compile(r"(?P<key>\d{4}\.\d{4,5})(?:v(?P<version>\d+))?")
# Old style: archive[.SUBJECT-CLASS]/YYMMNNN, e.g. hep-th/9901001, math.GT/0309136.
_OLD = re.compile(r"(?P<archive>[a-z]+(?:-[a-z]+)*)(?:\.[A-Za-z-]{2,})?/(?P<num>\d{7})(?:v(?P<version>\d+))?")
# What may stand before the id: arXiv: / oai:arXiv.org: prefixes, abs|pdf|html URLs on any arXiv host,
# arXiv's DOI (10.48550/arXiv.ID, bare or as a doi.org URL), and the paper URLs of Hugging Face and
# alphaXiv: what researchers copy from the pages they read (#14: pasted into search or an import).
_PREFIX = re.compile(
    r"^(?:arxiv:|oai:arxiv\.org:|10\.48550/arxiv\.|(?:https?://)?(?:"
    r"(?:[a-z]+\.)?arxiv\.org/(?:abs|pdf|html|api)/"
    r"|(?:dx\.)?doi\.org/10\.48550/arxiv\."
    r"|(?:www\.)?huggingface\.co/papers/"
    r"|(?:www\.)?alphaxiv\.org/(?:abs|overview)/))",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class ArxivId:
    """A paper's key (no version) and the version the spelling named, if any."""

    key: str
    version: int | None = None

    def __str__(self) -> str:
        return f"{self.key}v{self.version}" if self.version else self.key


def arxiv_id_or_none(text: str) -> ArxivId | None:
    """`parse_arxiv_id`, or None for text that is no arXiv id."""
    try:
        return parse_arxiv_id(text)
    except InvalidPaperId:
        return None


def parse_arxiv_id(text: str) -> ArxivId:
    """Parse any accepted spelling of an arXiv id; raise InvalidPaperId with the reason otherwise."""
    raw = text.strip()
    rest = _PREFIX.sub("", raw, count=1)
    rest = rest.split("?", 1)[0].split("#", 1)[0].rstrip("/")
    if rest.lower().endswith(".pdf"):
        rest = rest[:-4]
    m = _NEW.fullmatch(rest)
    if m:
        month = int(rest[2:4])
        if not 1 <= month <= 12:
            raise InvalidPaperId(f"not an arXiv id: {text!r} (month {rest[2:4]} does not exist)")
        return ArxivId(m["key"], int(m["version"]) if m["version"] else None)
    m = _OLD.fullmatch(rest)
    if m:
        key = f"{m['archive']}/{m['num']}"
        return ArxivId(key, int(m["version"]) if m["version"] else None)
    raise InvalidPaperId(
        f"not an arXiv id: {text!r} (expected e.g. 2401.01234, 2401.01234v3, hep-th/9901001, "
        "arXiv:2401.01234 or an arxiv.org/abs or /pdf URL)"
    )
