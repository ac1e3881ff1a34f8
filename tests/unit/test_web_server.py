"""`serve --workers N`: how uvicorn's supervisor is configured (#15)."""

from __future__ import annotations

from typing import Any

import pytest
import uvicorn
from sqlalchemy import create_engine

from papertrend.config import Settings
from papertrend.web.server import WORKER_HEALTHCHECK_SECONDS, run_server


def test_busy_workers_are_not_restarted_after_five_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    # uvicorn restarts a worker whose ping goes unanswered for 5 s by default; under load a busy worker
    # was restarted 5 times in 2 minutes (bench/web.py), paying its model, index and vocabulary again.
    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(kwargs))
    run_server(Settings(), engine=create_engine("sqlite://"), workers=2)
    assert seen["workers"] == 2
    assert seen["timeout_worker_healthcheck"] == WORKER_HEALTHCHECK_SECONDS >= 60
