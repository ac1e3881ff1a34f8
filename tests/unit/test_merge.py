"""The merge rule for a paper seen again (issue #2), on hand-made records."""

from __future__ import annotations

from datetime import UTC, date, datetime

from papertrend.papers.merge import merge
from papertrend.papers.models import PaperIn

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 2, 1, tzinfo=UTC)


def arxiv(version: int | None = 1, **kw: object) -> PaperIn:
    base: dict[str, object] = dict(
        id="2401.01234",
        version=version,
        title=f"Title v{version}",
        abstract=f"Abstract v{version}",
        authors=[f"Author v{version}"],
        categories=["cs.CL", "cs.AI"],
        source="arxiv-api",
    )
    base.update(kw)
    return PaperIn(**base)  # type: ignore[arg-type]


def hf(**kw: object) -> PaperIn:
    base: dict[str, object] = dict(
        id="2401.01234",
        title="HF title",
        abstract="HF abstract",
        authors=["HF Author"],
        source="hf-daily",
        authoritative=False,
        hf_upvotes=10,
        hf_comments=2,
        code_url="https://github.com/a/b",
        github_stars=5,
        hf_daily_on=date(2026, 1, 3),
        hf_submitted_at=datetime(2026, 1, 3, tzinfo=UTC),
        hf_ai_keywords=["llm"],
    )
    base.update(kw)
    return PaperIn(**base)  # type: ignore[arg-type]


def test_new_paper_is_added_with_primary_category_first() -> None:
    row, status = merge(None, arxiv(), now=T0)
    assert status == "added"
    assert row["primary_category"] == "cs.CL"
    assert row["first_seen_at"] == T0 == row["changed_at"]


def test_same_record_again_is_unchanged() -> None:
    row, _ = merge(None, arxiv(), now=T0)
    again, status = merge(row, arxiv(), now=T1)
    assert status == "unchanged"
    assert again is row


def test_newer_version_replaces_text_and_keeps_first_seen() -> None:
    row, _ = merge(None, arxiv(1, comment="10 pages"), now=T0)
    row2, status = merge(row, arxiv(2), now=T1)
    assert status == "updated"
    assert (row2["title"], row2["abstract"], row2["authors"], row2["version"]) == (
        "Title v2",
        "Abstract v2",
        ["Author v2"],
        2,
    )
    assert row2["first_seen_at"] == T0 and row2["changed_at"] == T1
    assert row2["comment"] == "10 pages"  # a record without a comment does not erase it


def test_older_version_does_not_replace_text() -> None:
    row, _ = merge(None, arxiv(3), now=T0)
    row2, status = merge(row, arxiv(1, doi="10.1/x"), now=T1)
    assert row2["title"] == "Title v3" and row2["version"] == 3
    assert status == "updated" and row2["doi"] == "10.1/x"  # but fills a gap


def test_hf_signals_merge_without_clobbering_arxiv_fields() -> None:
    row, _ = merge(None, arxiv(2), now=T0)
    row2, status = merge(row, hf(), now=T1)
    assert status == "updated"
    assert (row2["title"], row2["abstract"], row2["authors"]) == ("Title v2", "Abstract v2", ["Author v2"])
    assert row2["hf_upvotes"] == 10 and row2["code_url"] == "https://github.com/a/b"
    assert row2["hf_daily_on"] == date(2026, 1, 3)
    assert row2["sources"] == ["arxiv-api", "hf-daily"]


def test_arxiv_after_hf_takes_over_the_text_and_keeps_signals() -> None:
    row, _ = merge(None, hf(), now=T0)
    row2, _ = merge(row, arxiv(1), now=T1)
    assert row2["title"] == "Title v1" and row2["hf_upvotes"] == 10 and row2["version"] == 1


def test_counts_never_go_down_and_order_does_not_matter() -> None:
    old = hf(hf_upvotes=3, hf_submitted_at=datetime(2026, 1, 3, tzinfo=UTC), code_url=None)
    new = hf(
        hf_upvotes=40,
        hf_submitted_at=datetime(2026, 1, 9, tzinfo=UTC),
        hf_daily_on=date(2026, 1, 9),
        code_url="https://github.com/new/repo",
    )
    a, _ = merge(merge(None, old, now=T0)[0], new, now=T0)
    b, _ = merge(merge(None, new, now=T0)[0], old, now=T0)
    assert a == b
    assert a["hf_upvotes"] == 40 and a["hf_daily_on"] == date(2026, 1, 3)
    assert a["code_url"] == "https://github.com/new/repo"


def test_listing_day_keeps_the_earliest() -> None:
    row, _ = merge(None, arxiv(listed_on=date(2026, 1, 5)), now=T0)
    row2, _ = merge(row, arxiv(listed_on=date(2026, 1, 2)), now=T1)
    row3, status = merge(row2, arxiv(listed_on=date(2026, 1, 9)), now=T1)
    assert row3["listed_on"] == date(2026, 1, 2) and status == "unchanged"
