"""What the arXiv sources' parser tests share: ways to parse the recorded responses
(tests/fixtures/arxiv_api_fixtures, the `fixtures` fixture of tests/unit/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from papertrend.ingest.base import Parsed, RawBatch
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from papertrend.ingest.sources.arxiv_oai import ArxivOaiSource
from papertrend.papers.models import PaperIn


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def parse_file(source: ArxivApiSource | ArxivOaiSource, path: Path) -> Parsed:
    return source.parse(RawBatch(path.read_bytes(), path.name))


def parse_text(source: ArxivApiSource | ArxivOaiSource, text: str, origin: str = "test") -> Parsed:
    return source.parse(RawBatch(text.encode(), origin))


def by_id(parsed: Parsed) -> dict[str, PaperIn]:
    return {p.id: p for p in parsed.papers}
