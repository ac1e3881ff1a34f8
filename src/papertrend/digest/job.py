"""The worker's digest job: one `digest run` per call (issue #5)."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.digest.ranking import load_embedder, make_ranker
from papertrend.digest.run import run_digest
from papertrend.search.embedder import Embedder


def make_digest_job(*, settings: Settings, engine: Engine) -> Callable[[], str]:
    """The worker's job: one `digest run` per call. The model loads once and is kept; the ranker is
    new each run, as it holds the new papers of that run."""
    models: list[Embedder | None] = []

    def job() -> str:
        if not models:
            models.append(load_embedder(settings))
        ranker = make_ranker(settings, engine, embedder=models[0])
        return run_digest(engine=engine, settings=settings, ranker=ranker).summary()

    return job
