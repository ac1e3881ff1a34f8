"""Imported references and the arXiv ids inside them (issue #13).

Reference managers spell an arXiv paper many ways: BibTeX `eprint` (+ `archivePrefix`), a DOI under
arXiv's prefix 10.48550, an arxiv.org URL, "arXiv:2401.01234" in `journal`, `number` or `note`
(Google Scholar, Zotero), or a bare id. Every spelling papers/ids.py accepts is accepted here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from papertrend.papers.ids import ArxivId, arxiv_id_or_none

# A candidate token after one of arXiv's markers; parse_arxiv_id decides whether it is an id.
_TOKEN = r"([A-Za-z.-]*/?\d{4}\.?\d{3,5}(?:v\d+)?)"
_PATTERNS = (
    re.compile(r"10\.48550/arxiv\." + _TOKEN, re.IGNORECASE),
    re.compile(r"arxiv\.org/(?:abs|pdf|html)/" + _TOKEN, re.IGNORECASE),
    re.compile(r"arxiv:\s*" + _TOKEN, re.IGNORECASE),
)
# Fields where an id may sit, in the order they are trusted.
ID_FIELDS = ("eprint", "doi", "url", "journal", "number", "note", "howpublished", "archive_location")


@dataclass(frozen=True, slots=True)
class Reference:
    """One entry of an imported file: where it was (key or line), its title, and its arXiv id if any."""

    where: str
    title: str | None
    arxiv_id: ArxivId | None


def _parse(token: str) -> ArxivId | None:
    return arxiv_id_or_none(token.rstrip(".,;)]}"))


def arxiv_id_in(text: str) -> ArxivId | None:
    """The arXiv id a free-text value names (a bare id, DOI, URL or "arXiv:" mention), or None."""
    value = text.strip()
    if not value or len(value) > 2000:
        return None
    found = _parse(value)
    if found is not None:
        return found
    for pattern in _PATTERNS:
        for match in pattern.finditer(value):
            found = _parse(match.group(1))
            if found is not None:
                return found
    return None


def arxiv_id_of(fields: dict[str, str]) -> ArxivId | None:
    """The arXiv id of a reference given its fields (lower-case names), or None.

    `eprint` counts only when the entry does not name another archive (`archivePrefix`/`eprinttype`).
    """
    archive = (fields.get("archiveprefix") or fields.get("eprinttype") or "arxiv").strip().lower()
    for name in ID_FIELDS:
        value = fields.get(name)
        if not value or (name == "eprint" and archive != "arxiv"):
            continue
        found = arxiv_id_in(value)
        if found is not None:
            return found
    return None


def ids_in_list(text: str) -> Iterable[Reference]:
    """A pasted list of arXiv ids or URLs, one reference per whitespace- or comma-separated token."""
    for line_no, line in enumerate(text.splitlines(), 1):
        for token in re.split(r"[\s,;]+", line):
            if token:
                yield Reference(f"line {line_no}", token[:200], arxiv_id_in(token))
