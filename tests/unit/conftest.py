"""Fixtures of the arXiv sources' parser tests (test_arxiv_*_parse.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from papertrend.ingest.http import PoliteClient


@pytest.fixture(scope="module")
def client() -> Iterator[PoliteClient]:
    # parse() never touches it; the sources only need one to be built.
    with PoliteClient(user_agent="papertrend-tests") as c:
        yield c


@pytest.fixture(scope="module")
def fixtures(fixture_data: Path) -> Path:
    return fixture_data / "arxiv_api_fixtures"
