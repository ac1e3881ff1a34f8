"""The CLI's answers to bad input: a clear line and a failing exit, never a traceback (#12, item 10)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from papertrend.cli import app
from papertrend.config import Settings

runner = CliRunner()


def test_a_file_with_no_paper_in_it_fails(settings: Settings, tmp_path: Path) -> None:
    binary = tmp_path / "random.jsonl"
    binary.write_bytes(bytes(range(256)) * 40)
    result = runner.invoke(app, ["ingest", "jsonl", str(binary)])
    assert result.exit_code == 1, result.output
    assert "0 added" in result.output and "no record was a paper" in result.output


def test_a_directory_is_named_as_one(settings: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["ingest", "jsonl", str(tmp_path)])
    assert result.exit_code == 1
    assert "is a directory" in result.output and "no such file" not in result.output


def test_an_empty_file_is_no_failure(settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = runner.invoke(app, ["ingest", "jsonl", str(empty)])
    assert result.exit_code == 0, result.output


def test_production_with_the_default_secret_says_so_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(PAPERTREND_ENV="production", PAPERTREND_DATABASE_URL=f"sqlite:///{tmp_path / 'p.db'}")
    done = subprocess.run(
        [sys.executable, "-m", "papertrend", "stats"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "PAPERTREND_SECRET_KEY" in lines[0] and "Traceback" not in done.stderr
