"""Shapes every room passes around: one hit type, one filter type (DESIGN §3).

Papers and search both use them, so they belong to neither room (#11).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

Mode = Literal["keyword", "semantic", "hybrid"]
Sort = Literal["relevance", "date"]

# Markers keyword backends put around matched words, turned into <mark> tags only after the text is
# HTML-escaped (search.keyword.highlights). Stored text holding these control characters could at
# worst yield an unbalanced <mark>, never markup of its own.
MARK_OPEN, MARK_CLOSE, ELLIPSIS = "\x02", "\x03", "\u2026"


@dataclass(frozen=True, slots=True)
class Hit:
    """One result: the paper's canonical id and its score under the ranker that produced it."""

    paper_id: str
    score: float


@dataclass(frozen=True, slots=True)
class Filters:
    """Restrictions every search mode applies the same way.

    Dates bound the paper's listing day (arXiv announcement, else Hugging Face daily page, else its
    publication date), inclusive. Categories match any of the paper's categories; authors match a
    case-insensitive substring of any author name.
    """

    since: date | None = None
    until: date | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)
    authors: tuple[str, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return self.since is None and self.until is None and not self.categories and not self.authors
