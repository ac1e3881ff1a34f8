"""`papertrend ingest sample`: the bundled papers load, embed, and can be searched and digested with
no network (issue #11)."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend.cli import app
from papertrend.config import Settings
from papertrend.ingest.sample import SAMPLE_LAST_DAY, SAMPLE_PAPERS, sample_path
from tests.digest_support import add_subscriber
from tests.integration.helpers import dump_papers

runner = CliRunner()


def test_the_sample_file_is_package_data() -> None:
    path = sample_path()
    assert path.is_file() and path.name.endswith(".jsonl.gz")
    # Small enough to ship in the wheel (issue #11: under 1 MB).
    assert path.stat().st_size < 1_000_000


def test_ingest_sample_offline_then_search_and_a_digest(
    settings: Settings, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    loaded = runner.invoke(app, ["ingest", "sample"])
    assert loaded.exit_code == 0, loaded.output
    # Two papers are listed on two days each: the second listing updates the first.
    assert f"{SAMPLE_PAPERS} added, 2 updated, 0 unchanged, 0 rejected" in loaded.output
    assert f"{SAMPLE_PAPERS} papers embedded" in loaded.output
    stored = dump_papers(engine)
    assert len(stored) == SAMPLE_PAPERS
    assert stored["2608.19880"]["hf_upvotes"] == 163
    assert "papertrend digest preview" in loaded.output

    keyword = runner.invoke(app, ["search", "EnvHarness static worlds", "--mode", "keyword", "--json"])
    assert keyword.exit_code == 0, keyword.output
    assert keyword.output.index('"2608.19880"') < keyword.output.index("}")
    semantic = runner.invoke(
        app, ["search", "learning agents in simulated environments", "--mode", "semantic", "--json"]
    )
    assert semantic.exit_code == 0, semantic.output
    assert semantic.output.count('"id"') == 10

    # Loading it again changes nothing.
    again = runner.invoke(app, ["ingest", "sample"])
    assert again.exit_code == 0 and "0 added, 0 updated" in again.output

    add_subscriber(engine, "newcomer@example.org", confirmed_at=datetime(2026, 8, 1, tzinfo=UTC))
    when = f"{SAMPLE_LAST_DAY.isoformat()}T08:00"
    preview = runner.invoke(app, ["digest", "preview", "newcomer@example.org", "--now", when])
    assert preview.exit_code == 0, preview.output
    assert "EnvHarness" in preview.output
