"""The Source contract and the registry sources join by name (DESIGN §3, §6.8)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

from papertrend.errors import InvalidPaperId
from papertrend.papers.ids import ArxivId, parse_arxiv_id
from papertrend.papers.models import PaperIn, Rejected, without_bidi_controls

Cursor = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RawBatch:
    """What one fetch step produced: a payload, where it came from, and the cursor that covers it.

    `cursor` is the position to resume from once this batch is stored; the pipeline saves it in the
    same transaction as the batch's papers, so a crash can neither skip nor double a batch.
    """

    payload: Any
    origin: str
    cursor: Cursor | None = None


@dataclass(slots=True)
class Parsed:
    """The papers a batch held, and the records that could not be used."""

    papers: list[PaperIn] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


class Source(Protocol):
    """A place papers come from. `fetch` does the I/O; `parse` is pure and tested on recordings."""

    name: str

    def cursor_key(self) -> str:
        """Which cursor this run resumes, e.g. the OAI set or the file path."""
        ...

    def fetch(self, cursor: Cursor | None) -> Iterable[RawBatch]:
        """Yield raw batches, starting after `cursor`."""
        ...

    def parse(self, raw: RawBatch) -> Parsed:
        """Turn one raw batch into papers and rejections, with no I/O."""
        ...


_REGISTRY: dict[str, Callable[..., Source]] = {}


def register_source(name: str) -> Callable[[Callable[..., Source]], Callable[..., Source]]:
    """Class decorator: make a source constructible by name (`@register_source("arxiv-oai")`)."""

    def wrap(factory: Callable[..., Source]) -> Callable[..., Source]:
        _REGISTRY[name] = factory
        return factory

    return wrap


def source_names() -> list[str]:
    """Names of all registered sources."""
    import papertrend.ingest.sources  # noqa: F401  (registers the built-in sources)

    return sorted(_REGISTRY)


def make_source(name: str, **options: Any) -> Source:
    """Construct the registered source `name` with its options."""
    import papertrend.ingest.sources  # noqa: F401

    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown source {name!r}; known: {', '.join(sorted(_REGISTRY))}") from None
    return factory(**options)


def check_id(value: Any, *, source: str, record: str, parsed: Parsed) -> ArxivId | None:
    """Canonicalise a record's id, or note the rejection and return None."""
    if not isinstance(value, str) or not value.strip():
        parsed.rejected.append(Rejected(source, record, "missing id"))
        return None
    try:
        return parse_arxiv_id(value)
    except InvalidPaperId as exc:
        parsed.rejected.append(Rejected(source, record, exc.message))
        return None


def clean_text(value: Any) -> str:
    """Collapse the hard line wraps arXiv puts in titles and abstracts into single spaces, and drop
    bidirectional override characters (#12)."""
    if not isinstance(value, str):
        return ""
    return " ".join(without_bidi_controls(value).split())


def clean_texts(values: Sequence[str]) -> list[str]:
    """`clean_text` of each string, in a few calls for the whole list: one call per author name was a
    third of parsing the 74,728-paper listing (8 names a paper)."""
    if not values:
        return []
    joined = "\x00".join(values)
    if joined.count("\x00") != len(values) - 1:  # a NUL of its own would split a name
        return [clean_text(v) for v in values]
    # Runs of whitespace never cross the NULs (not whitespace), so collapsing them in the whole joins
    # each name's; a name's end is then at most one space from its NUL.
    text = " ".join(without_bidi_controls(joined).split())
    return text.replace(" \x00", "\x00").replace("\x00 ", "\x00").split("\x00")


def text_or_none(value: str) -> str | None:
    """An empty string as None, so that a missing field merges as a gap, not as a value."""
    return value or None


def iso_datetime(value: Any) -> datetime | None:
    """An ISO 8601 timestamp or date ("Z" allowed) as an aware datetime, UTC when it names no zone."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def rfc2822_datetime(value: Any) -> datetime | None:
    """An RFC 2822 date ("Mon, 2 Apr 2007 19:18:42 GMT") as an aware datetime, else None."""
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
