"""`jsonl`: arXiv metadata files, gzip or plain, streamed line by line (issue #2).

Two shapes are read, told apart per record:
- the arXiv listing set's (docs/benchmarks.md: authors and categories as lists, `first_listed`);
- the Kaggle arXiv snapshot (authors as a string plus `authors_parsed`, space-separated categories,
  `versions` with RFC 2822 dates, `journal-ref`, `doi`, `license`).
"""

from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import IO, Any

import orjson

from papertrend.errors import SourceError
from papertrend.ingest.base import (
    Cursor,
    Parsed,
    RawBatch,
    check_id,
    clean_text,
    clean_texts,
    register_source,
    rfc2822_datetime,
)
from papertrend.numbers import whole_number
from papertrend.papers.categories import arxiv_categories
from papertrend.papers.models import PaperIn, Rejected

BATCH_LINES = 2000
_GZIP_MAGIC = b"\x1f\x8b"


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _iso_date(value: Any) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def _text_or_none(value: Any) -> str | None:
    text = clean_text(value)
    return text or None


def _kaggle_authors(record: dict[str, Any]) -> list[str]:
    parsed = record.get("authors_parsed")
    if isinstance(parsed, list) and parsed:
        names = []
        for parts in parsed:
            if isinstance(parts, list) and parts:
                last, first, suffix = ([*parts, "", ""])[:3]
                names.append(" ".join(p for p in (first, last, suffix) if p))
        return names
    raw = record.get("authors")
    if isinstance(raw, str):
        return [a.strip() for a in raw.replace(" and ", ", ").split(",") if a.strip()]
    return []


def record_to_paper(record: Any, *, source: str, where: str, parsed: Parsed) -> PaperIn | None:
    """One decoded JSON record (either shape) → PaperIn, or a rejection noted in `parsed`."""
    if not isinstance(record, dict):
        parsed.rejected.append(Rejected(source, where, "record is not a JSON object"))
        return None
    arxiv_id = check_id(record.get("id"), source=source, record=where, parsed=parsed)
    if arxiv_id is None:
        return None
    title = clean_text(record.get("title"))
    if not title:
        parsed.rejected.append(Rejected(source, where, f"{arxiv_id.key}: missing title"))
        return None
    categories = record.get("categories")
    versions = record.get("versions")
    if isinstance(categories, str) or isinstance(versions, list):  # Kaggle snapshot
        cats = arxiv_categories([categories]) if isinstance(categories, str) else []
        created = [rfc2822_datetime(v.get("created")) for v in (versions or []) if isinstance(v, dict)]
        latest = versions[-1].get("version", "") if versions and isinstance(versions[-1], dict) else ""
        number = whole_number(latest[1:]) if isinstance(latest, str) else None
        version = arxiv_id.version if number is None else number
        return PaperIn(
            id=arxiv_id.key,
            version=version,
            title=title,
            source=source,
            abstract=clean_text(record.get("abstract")),
            authors=_kaggle_authors(record),
            categories=cats,
            comment=_text_or_none(record.get("comments")),
            journal_ref=_text_or_none(record.get("journal-ref")),
            doi=_text_or_none(record.get("doi")),
            license=_text_or_none(record.get("license")),
            published_at=created[0] if created else None,
            updated_at=created[-1] if created else None,
            pdf_url=f"https://arxiv.org/pdf/{arxiv_id.key}",
        )
    authors = record.get("authors")
    return PaperIn(
        id=arxiv_id.key,
        version=arxiv_id.version,
        title=title,
        source=source,
        abstract=clean_text(record.get("abstract")),
        authors=clean_texts([a for a in authors if isinstance(a, str)]) if isinstance(authors, list) else [],
        categories=arxiv_categories(categories) if isinstance(categories, list) else [],
        comment=_text_or_none(record.get("comment")),
        journal_ref=_text_or_none(record.get("journal_ref")),
        doi=_text_or_none(record.get("doi")),
        listed_on=_iso_date(record.get("first_listed")),
        pdf_url=record.get("pdf_url") or f"https://arxiv.org/pdf/{arxiv_id.key}",
    )


def as_text(path: Path) -> str:
    """A path as text any store or terminal takes: bytes that are not UTF-8 written as \\xNN."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


@register_source("jsonl")
class JsonlSource:
    """Stream one file; the cursor is the number of lines already stored."""

    name = "jsonl"
    # Resuming matters only for a run that was cut short; a finished file is simply read again.
    forget_cursor_when_done = True

    def __init__(self, *, path: str | Path, batch_lines: int = BATCH_LINES) -> None:
        self.path = Path(path)
        # What reports, cursors and messages call the file: a name may hold bytes that are not UTF-8,
        # which neither the database nor the terminal take (they would raise), written as \xNN here.
        self.label = as_text(self.path)
        self.batch_lines = batch_lines

    def cursor_key(self) -> str:
        return as_text(self.path.resolve())

    def _fingerprint(self) -> dict[str, int]:
        st = self.path.stat()
        return {"size": st.st_size, "mtime_ns": st.st_mtime_ns}

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        if self.path.is_dir():
            raise SourceError(f"{self.label}: is a directory, not a JSON-lines file")
        if not self.path.is_file():
            raise SourceError(f"{self.label}: no such file")
        fingerprint = self._fingerprint()
        skip = 0
        if cursor and {k: cursor.get(k) for k in fingerprint} == fingerprint:
            skip = int(cursor.get("line", 0))
        lineno = 0
        batch: list[bytes] = []
        first = skip + 1
        try:
            with _open(self.path) as fh:
                for line in fh:
                    lineno += 1
                    if lineno <= skip:
                        continue
                    batch.append(line)
                    if len(batch) >= self.batch_lines:
                        yield RawBatch((first, batch), self.label, {"line": lineno, **fingerprint})
                        batch, first = [], lineno + 1
        except (OSError, EOFError, zlib.error) as exc:
            # A truncated or corrupt gzip: store the whole lines read so far, then fail the run.
            if batch:
                yield RawBatch((first, batch), self.label, {"line": lineno, **fingerprint})
            raise SourceError(f"{self.label}: unreadable after line {lineno} ({exc})") from exc
        if batch:
            yield RawBatch((first, batch), self.label, {"line": lineno, **fingerprint})

    def parse(self, raw: RawBatch) -> Parsed:
        first, lines = raw.payload
        parsed = Parsed()
        name = Path(raw.origin).name
        for offset, line in enumerate(lines):
            if not line.strip():
                continue
            where = f"{name}:{first + offset}"
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                parsed.rejected.append(Rejected(self.name, where, f"not JSON ({exc})"))
                continue
            paper = record_to_paper(record, source=self.name, where=where, parsed=parsed)
            if paper is not None:
                parsed.papers.append(paper)
        return parsed
