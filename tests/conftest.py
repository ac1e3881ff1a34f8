"""Shared fixtures: each test its own SQLite database (DESIGN §6.7), the shared data, a replay server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import create_engine
from papertrend.migrate import upgrade
from tests.replay import ReplayServer

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the checkout; the suite needs it and says so when it is missing."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}: the suite reads ../shared/data beside the repo")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings for a throwaway install in tmp_path; also exported for CLI runs in-process."""
    env = {
        "PAPERTREND_ENV": "test",
        "PAPERTREND_DATABASE_URL": f"sqlite:///{tmp_path / 'papertrend.db'}",
        "PAPERTREND_DATA_DIR": str(tmp_path),
        "PAPERTREND_MAIL_URL": f"maildir://{tmp_path / 'mail'}",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A migrated SQLite database of the test's own."""
    eng = create_engine(settings.database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A local HTTP server replaying recorded responses."""
    server = ReplayServer().start()
    yield server
    server.stop()
