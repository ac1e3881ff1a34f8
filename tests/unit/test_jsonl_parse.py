"""`jsonl` parse on real arXiv metadata: the Kaggle snapshot's head and the listing's first 200 lines
(tests/fixtures/arxiv_metadata; issue #2)."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

from papertrend.ingest.base import RawBatch
from papertrend.ingest.sources.jsonl import JsonlSource

LISTING = "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz"
KAGGLE = "arxiv_metadata/kaggle_arxiv_snapshot_head200.jsonl"


def _parse_file(path: Path) -> tuple[list, list]:  # type: ignore[type-arg]
    src = JsonlSource(path=path)
    papers, rejected = [], []
    for raw in src.fetch(None):
        parsed = src.parse(raw)
        papers += parsed.papers
        rejected += parsed.rejected
    return papers, rejected


def test_kaggle_snapshot_shape(fixture_data: Path) -> None:
    papers, rejected = _parse_file(fixture_data / KAGGLE)
    assert len(papers) == 200 and rejected == []
    first = papers[0]
    assert first.id == "0704.0001"
    assert (
        first.title == "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    # authors_parsed carries the accents already decoded, unlike the LaTeX in the authors string.
    assert first.authors == ["C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C. -P. Yuan"]
    assert first.categories == ["hep-ph"]
    assert first.journal_ref == "Phys.Rev.D76:013009,2007"
    assert first.doi == "10.1103/PhysRevD.76.013009"
    assert first.version == 2
    assert first.published_at == datetime(2007, 4, 2, 19, 18, 42, tzinfo=UTC)
    assert first.updated_at == datetime(2007, 7, 24, 20, 10, 27, tzinfo=UTC)
    assert first.abstract.startswith("A fully differential calculation")
    assert "\n" not in first.abstract


def test_listing_shape(fixture_data: Path) -> None:
    # The listing's first 200 lines; bench/ingest.py reads all 74,728 (issue #11).
    papers, rejected = _parse_file(fixture_data / LISTING)
    assert len(papers) == 200 and rejected == []
    assert len({p.id for p in papers}) == 200
    first = papers[0]
    assert first.id == "2503.11731"
    assert first.categories == ["cs.CV", "cs.RO"]
    assert first.listed_on == date(2025, 3, 18)
    assert len(first.authors) == 16
    assert all(p.abstract for p in papers)


def test_bad_lines_are_rejected_and_the_rest_kept(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(
        '{"id": "2401.00001", "title": "Good one", "abstract": "x", "authors": ["A"], '
        '"categories": ["cs.CL"]}\n'
        "{not json\n"
        '{"title": "No id"}\n'
        '{"id": "2401.00002"}\n'
        '{"id": "nonsense-id", "title": "Bad id"}\n'
        "[1, 2]\n"
        "\n"
        '{"id": "2401.00003v2", "title": "Good two", "authors": [], "categories": []}\n'
    )
    src = JsonlSource(path=path)
    (raw,) = list(src.fetch(None))
    parsed = src.parse(raw)
    assert [p.id for p in parsed.papers] == ["2401.00001", "2401.00003"]
    assert parsed.papers[1].version == 2
    reasons = {r.record: r.reason for r in parsed.rejected}
    assert set(reasons) == {
        "mixed.jsonl:2",
        "mixed.jsonl:3",
        "mixed.jsonl:4",
        "mixed.jsonl:5",
        "mixed.jsonl:6",
    }
    assert reasons["mixed.jsonl:2"].startswith("not JSON")
    assert reasons["mixed.jsonl:3"] == "missing id"
    assert reasons["mixed.jsonl:4"] == "2401.00002: missing title"
    assert "not an arXiv id" in reasons["mixed.jsonl:5"]


def test_a_version_label_in_other_digits_keeps_the_ids_version(tmp_path: Path) -> None:
    # "v²" passes str.isdigit() after the "v" but not int(): the line was lost to a ValueError.
    path = tmp_path / "odd.jsonl"
    path.write_text(
        '{"id": "2401.00004v3", "title": "Odd", "abstract": "x", "authors": "A. Author", '
        '"categories": "cs.CL", "versions": [{"version": "v\\u00b2", '
        '"created": "Mon, 1 Jan 2024 00:00:00 GMT"}]}\n'
    )
    papers, rejected = _parse_file(path)
    assert rejected == [] and [(p.id, p.version) for p in papers] == [("2401.00004", 3)]


def test_gzip_and_plain_read_the_same(tmp_path: Path, fixture_data: Path) -> None:
    plain = (fixture_data / KAGGLE).read_bytes()
    gz = tmp_path / "k.jsonl.gz"
    gz.write_bytes(gzip.compress(plain))
    assert [p.id for p in _parse_file(gz)[0]] == [p.id for p in _parse_file(fixture_data / KAGGLE)[0]]


def test_batches_carry_line_cursors(fixture_data: Path) -> None:
    src = JsonlSource(path=fixture_data / KAGGLE, batch_lines=64)
    batches: list[RawBatch] = list(src.fetch(None))
    assert [b.cursor["line"] for b in batches if b.cursor] == [64, 128, 192, 200]
    resumed = list(src.fetch(batches[1].cursor))
    assert resumed[0].payload[0] == 129 and len(resumed) == 2
