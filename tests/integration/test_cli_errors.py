"""The CLI's answers to bad input: a clear line and a failing exit, never a traceback (#12, item 10)."""

from __future__ import annotations

import gzip
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


def test_an_argument_that_is_not_utf8_is_named_in_one_line(settings: Settings) -> None:
    # A terminal in another encoding hands over bytes that are not UTF-8; Python passes them on as
    # lone surrogates, which the database, the tokenizers and tantivy refused with a traceback.
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(PAPERTREND_DATABASE_URL=settings.database_url, PAPERTREND_DATA_DIR=str(settings.data_dir))
    calls = (
        (["users", "delete", b"ab\xffcd@example.org"], b"ab\xffcd@example.org"),
        (["search", "--author", b"M\xfcller", "agents"], b"M\xfcller"),
    )
    for args, bad in calls:
        done = subprocess.run(
            [sys.executable, "-m", "papertrend", *args], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 2, done.stderr
        said = (
            f"papertrend: an argument is not UTF-8 text: {os.fsdecode(bad)!r}; check the terminal's encoding"
        )
        assert done.stderr.strip().splitlines() == [said]


def test_a_file_whose_name_is_not_utf8_is_ingested(
    settings: Settings, fixture_data: Path, tmp_path: Path
) -> None:
    # A file name may be any bytes: reports, cursors and messages write the others as \xNN.
    odd = tmp_path / os.fsdecode(b"listing-\xff.jsonl")
    with gzip.open(fixture_data / "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz", "rt") as fh:
        odd.write_text("".join(next(fh) for _ in range(3)) + "not json\n")
    result = runner.invoke(app, ["ingest", "jsonl", str(odd)])
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output and "listing-\\xff.jsonl:4: not JSON" in result.output
