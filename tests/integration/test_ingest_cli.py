"""`papertrend ingest …` end to end through the CLI runner on real files (issue #2)."""

from __future__ import annotations

import gzip
from pathlib import Path

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend.cli import app
from papertrend.config import Settings
from papertrend.db import create_engine
from tests.integration.helpers import dump_papers

KAGGLE = "arxiv_metadata/kaggle_arxiv_snapshot_head200.jsonl"
HF_DAYS = "hf_daily_papers/daily_papers_7_days.jsonl.gz"
runner = CliRunner()


def _engine(settings: Settings) -> Engine:
    return create_engine(settings.database_url)


def test_ingest_twice_gives_an_identical_database(settings: Settings, fixture_data: Path) -> None:
    first = runner.invoke(app, ["ingest", "jsonl", str(fixture_data / KAGGLE)])
    assert first.exit_code == 0, first.output
    assert "200 added, 0 updated, 0 unchanged, 0 rejected" in first.output
    before = dump_papers(_engine(settings), ignore=())
    second = runner.invoke(app, ["ingest", "jsonl", str(fixture_data / KAGGLE)])
    assert "0 added, 0 updated, 200 unchanged, 0 rejected" in second.output
    assert dump_papers(_engine(settings), ignore=()) == before


def test_hf_archive_merges_into_arxiv_papers(settings: Settings, fixture_data: Path, tmp_path: Path) -> None:
    listing = tmp_path / "listing.jsonl"
    listing.write_text(
        '{"id": "2506.09513", "title": "ReasonMed (arXiv title)", "abstract": "arXiv abstract", '
        '"authors": ["Yu Sun"], "categories": ["cs.CL", "cs.AI"], "first_listed": "2025-06-12"}\n'
    )
    assert runner.invoke(app, ["ingest", "jsonl", str(listing)]).exit_code == 0
    result = runner.invoke(app, ["ingest", "hf-daily", "--from-file", str(fixture_data / HF_DAYS)])
    assert result.exit_code == 0, result.output
    assert "0 rejected" in result.output
    row = dump_papers(_engine(settings))["2506.09513"]
    assert row["title"] == "ReasonMed (arXiv title)" and row["abstract"] == "arXiv abstract"
    assert row["hf_upvotes"] == 31 and row["code_url"] == "https://github.com/YuSun-Work/ReasonMed"
    assert row["sources"] == ["hf-daily", "jsonl"]
    again = runner.invoke(app, ["ingest", "hf-daily", "--from-file", str(fixture_data / HF_DAYS)])
    assert "0 added, 0 updated" in again.output


def test_bad_records_are_reported_and_good_ones_kept(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"id": "2401.00001", "title": "ok"}\n{oops\n{"id": "x", "title": "t"}\n')
    result = runner.invoke(app, ["ingest", "jsonl", str(path)])
    assert result.exit_code == 0
    assert "1 added, 0 updated, 0 unchanged, 2 rejected" in result.output
    assert "bad.jsonl:2: not JSON" in result.output and "bad.jsonl:3: not an arXiv id" in result.output


def test_truncated_gzip_fails_clearly_and_keeps_whole_batches(
    settings: Settings, fixture_data: Path, tmp_path: Path
) -> None:
    data = gzip.compress((fixture_data / KAGGLE).read_bytes())
    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    result = runner.invoke(app, ["ingest", "jsonl", str(cut)])
    assert result.exit_code == 1
    assert "cut.jsonl.gz: unreadable after line" in result.output
    stored = dump_papers(_engine(settings))
    assert 0 < len(stored) < 200
    # every stored paper is whole: the same as a clean ingest of the same ids would give
    assert all(row["title"] and row["abstract"] for row in stored.values())


def test_missing_file_and_unknown_id(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "jsonl", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 1 and "no such file" in result.output
    shown = runner.invoke(app, ["papers", "show", "not-an-id"])
    assert shown.exit_code == 2 and "not an arXiv id" in shown.output


def test_papers_list_show_and_stats(settings: Settings, fixture_data: Path) -> None:
    runner.invoke(
        app,
        ["ingest", "hf-daily", "--from-file", str(fixture_data / "hf_daily_papers/samples/2026-08-21.json")],
    )
    listed = runner.invoke(app, ["papers", "list", "--json"])
    assert listed.exit_code == 0
    assert '"id":"2608.19880"' in listed.output.replace(" ", "")
    shown = runner.invoke(app, ["papers", "show", "https://arxiv.org/abs/2608.19880v1"])
    assert shown.exit_code == 0 and "EnvHarness" in shown.output
    stats = runner.invoke(app, ["stats"])
    assert stats.exit_code == 0 and "papers: 17" in stats.output and "hf-daily" in stats.output
