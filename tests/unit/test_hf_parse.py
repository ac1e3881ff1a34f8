"""`hf-daily` parse on real API responses, 2024 → 2026 schema drift (issue #2)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import orjson
import pytest

from papertrend.errors import SourceError
from papertrend.ingest.base import RawBatch
from papertrend.ingest.sources.hf_daily import HfDailySource, items_of, parse_items, submitter

SAMPLES = "hf_daily_papers/samples"


@pytest.mark.parametrize(
    ("name", "count"), [("2024-05-27.json", 13), ("2025-06-13.json", 26), ("2026-08-21.json", 17)]
)
def test_each_sample_parses_whole(fixture_data: Path, name: str, count: int) -> None:
    src = HfDailySource(from_file=fixture_data / SAMPLES / name)
    (raw,) = list(src.fetch(None))
    parsed = src.parse(raw)
    assert len(parsed.papers) == count and parsed.rejected == []
    day = date.fromisoformat(name[:10])
    assert all(p.hf_daily_on == day and not p.authoritative for p in parsed.papers)


def test_2024_item_without_submitted_on_daily_at(fixture_data: Path) -> None:
    items = orjson.loads((fixture_data / SAMPLES / "2024-05-27.json").read_bytes())
    p = parse_items(items, day=None, origin="x").papers[0]
    assert p.id == "2405.15738"
    assert p.title == "ConvLLaVA: Hierarchical Backbones as Visual Encoder for Large Multimodal Models"
    assert p.hf_upvotes == 32 and p.hf_comments == 3
    assert p.hf_submitted_at == datetime(2024, 5, 27, 3, 50, 58, 348000, tzinfo=UTC)
    assert p.hf_daily_on == date(2024, 5, 27)
    assert p.published_at == datetime(2024, 5, 24, 17, 34, 15, tzinfo=UTC)
    assert p.authors[:2] == ["Chunjiang Ge", "Sijie Cheng"]
    assert p.code_url is None and p.hf_ai_keywords is None


def test_2026_item_with_every_signal(fixture_data: Path) -> None:
    items = orjson.loads((fixture_data / SAMPLES / "2026-08-21.json").read_bytes())
    p = parse_items(items, day=date(2026, 8, 21), origin="x").papers[0]
    assert p.id == "2608.19880" and p.hf_upvotes == 163
    assert p.code_url == "https://github.com/google-research/envharness"
    assert p.project_url == "https://envharness.com/"
    assert p.github_stars == 8
    assert p.hf_ai_keywords and "LLM agents" in p.hf_ai_keywords
    assert p.hf_ai_summary
    # Who put it on the daily page: kept in Hugging Face's names, only the fields its client reads (#16).
    assert p.hf_submitted_by == {
        "user": "taesiri",
        "fullname": "taesiri",
        "avatarUrl": "https://cdn-avatars.huggingface.co/v1/production/uploads/6039478ab3ecf716b1a5fd4d/"
        "_Thy4E7taiSYBLKxEKJbT.jpeg",
        "type": "user",
        "isPro": True,
    }


def test_submitter_in_each_years_schema(fixture_data: Path) -> None:
    """2025 and 2026 items name who submitted them (in `paper.submittedOnDailyBy` and the item's
    `submittedBy`); 2024 items do not. Every paper of those days keeps one (#16)."""
    for name, expected in (("2024-05-27.json", 0), ("2025-06-13.json", 26), ("2026-08-21.json", 17)):
        items = orjson.loads((fixture_data / SAMPLES / name).read_bytes())
        papers = parse_items(items, day=None, origin=name).papers
        kept = [p.hf_submitted_by for p in papers if p.hf_submitted_by]
        assert len(kept) == expected, name
        assert all(isinstance(s["user"], str) and s["user"] for s in kept)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        (
            {"user": "ada", "avatarUrl": "/avatars/a.svg"},
            {"user": "ada", "avatarUrl": "https://huggingface.co/avatars/a.svg"},
        ),
        ({"user": "ada", "avatarUrl": "javascript:alert(1)", "isPro": "yes"}, {"user": "ada"}),
        ({"user": "ada", "avatarUrl": "//evil.example/a.png", "fullname": 3}, {"user": "ada"}),
        ({"user": "  ", "fullname": "Ada"}, None),
        ({"fullname": "Ada"}, None),
        ("ada", None),
    ],
)
def test_submitter_keeps_only_typed_safe_fields(given: object, kept: object) -> None:
    assert submitter(given) == kept


def test_archive_file_parses(fixture_data: Path) -> None:
    # Seven days of the 580-day archive (issue #11: the suite carries its data; bench/ingest.py reads
    # the whole file): 2024's schema, two of the 22 days stored as Python reprs (2025-01-10 also
    # wrapped in {"status", "data"}), and 2608.13558, listed on two days.
    src = HfDailySource(from_file=fixture_data / "hf_daily_papers/daily_papers_7_days.jsonl.gz")
    papers, rejected, days = [], [], set()
    for raw in src.fetch(None):
        parsed = src.parse(raw)
        papers += parsed.papers
        rejected += parsed.rejected
        days.add(raw.payload[0])
    assert len(days) == 7 and len(papers) == 129 and rejected == []
    assert len({p.id for p in papers}) == 128
    assert sum(p.code_url is not None for p in papers) == 45


def test_wrapped_and_bad_items() -> None:
    assert items_of({"status": "ok", "data": [1]}) == [1]
    with pytest.raises(SourceError):
        items_of({"error": "Invalid date"})
    parsed = parse_items(
        [
            {"paper": {"id": "2401.00001", "title": "T"}},
            {"paper": {"title": "no id"}},
            "junk",
            {"paper": {"id": "2401.00002", "title": "  "}},
        ],
        day=None,
        origin="d",
    )
    assert [p.id for p in parsed.papers] == ["2401.00001"]
    assert [r.reason for r in parsed.rejected] == [
        "missing id",
        "item is not a JSON object",
        "2401.00002: missing title",
    ]


def test_source_requires_exactly_one_mode() -> None:
    with pytest.raises(ValueError):
        HfDailySource(from_file="x", week="2026-W01")
    with pytest.raises(ValueError):
        HfDailySource(days=[date(2026, 1, 1)])  # no client to fetch with


def test_parse_is_pure_on_a_batch() -> None:
    raw = RawBatch((date(2026, 1, 2), [{"paper": {"id": "2401.00001", "title": "T", "upvotes": 4}}]), "o")
    src = HfDailySource(from_file="unused.json")
    assert src.parse(raw).papers[0].hf_upvotes == 4
