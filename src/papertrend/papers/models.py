"""Plain records that cross rooms: what a source produces (PaperIn) and what readers get (Paper)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

# Unicode's bidirectional embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069): in a
# title or abstract they reorder what a reader sees ("Trojan Source"), and a source's text has no
# use for them (#12: U+202E from an abstract reached the plain-text digest). The marks (LRM, RLM),
# which cannot reorder text, stay.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def without_bidi_controls(text: str) -> str:
    """Source text with the bidirectional override, embedding and isolate characters removed."""
    return text if text.isascii() else text.translate(_BIDI_CONTROLS)


# The characters no name or id holds, as a regex class body: C0 controls and DEL. NUL breaks
# PostgreSQL's text (`?author=%00` on the site, `author_papers` over MCP: both failed there).
CONTROL_CHARS = r"\x00-\x1f\x7f"
_CONTROL = re.compile(f"[{CONTROL_CHARS}]")


def has_control_chars(text: str) -> bool:
    """Whether a name or id given by a user holds a control character (see CONTROL_CHARS)."""
    return _CONTROL.search(text) is not None


@dataclass(slots=True)
class PaperIn:
    """One paper as a source saw it. `authoritative` sources (arXiv's) own the bibliographic fields;
    the others (Hugging Face) only fill gaps and bring their own signals."""

    id: str
    title: str
    source: str
    authoritative: bool = True
    version: int | None = None
    abstract: str = ""
    authors: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)  # primary first
    comment: str | None = None
    journal_ref: str | None = None
    doi: str | None = None
    license: str | None = None
    published_at: datetime | None = None
    updated_at: datetime | None = None
    listed_on: date | None = None
    pdf_url: str | None = None
    code_url: str | None = None
    project_url: str | None = None
    hf_upvotes: int | None = None
    hf_comments: int | None = None
    hf_daily_on: date | None = None
    hf_submitted_at: datetime | None = None
    hf_ai_summary: str | None = None
    hf_ai_keywords: list[str] | None = None
    hf_submitted_by: dict[str, str | bool] | None = None
    github_stars: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record a source could not turn into a paper, and why; counted and reported, never stored."""

    source: str
    record: str  # where it came from: file:line, URL or the id as given
    reason: str


@dataclass(frozen=True, slots=True)
class Paper:
    """A stored paper, as the read side sees it."""

    pk: int
    id: str
    version: int | None
    title: str
    abstract: str
    authors: list[str]
    categories: list[str]
    primary_category: str | None
    comment: str | None
    journal_ref: str | None
    doi: str | None
    license: str | None
    published_at: datetime | None
    updated_at: datetime | None
    listed_on: date | None
    pdf_url: str | None
    code_url: str | None
    project_url: str | None
    hf_upvotes: int | None
    hf_comments: int | None
    hf_daily_on: date | None
    hf_submitted_at: datetime | None
    hf_ai_summary: str | None
    hf_ai_keywords: list[str] | None
    github_stars: int | None
    sources: list[str]
    first_seen_at: datetime
    changed_at: datetime
    # Upvotes cast here (papers.votes), read beside the row; not a column of `papers` (issue #4).
    own_votes: int = 0
    # Who put it on Hugging Face's daily page (#16); last, with a default, so records made by hand
    # (tests, older callers) need not name it.
    hf_submitted_by: dict[str, str | bool] | None = None

    @property
    def abs_url(self) -> str:
        return f"https://arxiv.org/abs/{self.id}"

    @property
    def hf_url(self) -> str | None:
        """The paper's Hugging Face page, when it came from there (#14)."""
        from_hf = self.hf_daily_on is not None or any(s.startswith("hf") for s in self.sources)
        return f"https://huggingface.co/papers/{self.id}" if from_hf else None

    @property
    def dated(self) -> datetime:
        """When the paper itself was last dated: its arXiv update, publication or listing day, else
        when it was first stored; what feed entries are dated by, not the time of an ingest (#14)."""
        stamp = self.updated_at or self.published_at
        if stamp is not None:
            return stamp
        day = self.listing_day
        return datetime(day.year, day.month, day.day, tzinfo=UTC) if day else self.first_seen_at

    @property
    def listing_day(self) -> date | None:
        """The day a paper is dated by: arXiv listing day, else Hugging Face daily day, else publication.

        The one definition (#11); `papers.repository.listing_day_expr` is its SQL twin.
        """
        return self.listed_on or self.hf_daily_on or (self.published_at.date() if self.published_at else None)

    @property
    def votes(self) -> int:
        """Votes shown and ranked: Hugging Face upvotes plus upvotes here (issue #4)."""
        return (self.hf_upvotes or 0) + self.own_votes


def authors_short(names: Sequence[str], keep: int = 3) -> str:
    """The first authors and how many more, each name on one line; the one definition (#11)."""
    names = [" ".join(without_bidi_controls(n).split()) for n in names]
    if len(names) <= keep + 1:
        return ", ".join(names)
    return f"{', '.join(names[:keep])} and {len(names) - keep} more"
