"""Periodic jobs: ingest the configured sources, look up arXiv categories for papers only Hugging
Face knows, embed new papers, send digests, purge expired sign-in rows (DESIGN §2, issues #3, #4, #14).

`papertrend worker` runs them in the foreground; `papertrend serve` runs the same loop in a thread
unless `--no-worker`. Each job can also be run once by hand with its own CLI command. Several
workers against one database take a lease on each job (papertrend.leases), so each runs in one
worker at a time and once per period, and a dead worker's job is taken over (issue #6).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from papertrend import ratelimit
from papertrend.accounts import repository as accounts_repo
from papertrend.config import Settings
from papertrend.db import transaction
from papertrend.digest.job import make_digest_job
from papertrend.ingest.backfill import CategoriesJob
from papertrend.ingest.base import make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.leases import Leases
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import get_embedder

log = logging.getLogger("papertrend.worker")

# Embedding runs in slices so a large backlog never holds the loop for long: after each slice the
# other due jobs run, then embedding goes on at once while papers are left (#15). 512 papers take
# ~10 s with MiniLM on 2 cores.
EMBED_SLICE = 512
# Expired links and sessions grant nothing (their queries check `expires_at`), so the purge is only
# housekeeping: hourly keeps the tables small without a setting to document (issue #4).
PURGE_EVERY = timedelta(hours=1)


@dataclass
class Job:
    """A named task and how often it is due."""

    name: str
    every: timedelta
    run: Callable[[], str]
    next_due: float = 0.0
    # Shared jobs run in every worker at once, with no lease: they split their work themselves
    # (embedding claims batches, search/claims.py) (#15).
    shared: bool = False
    # Whether the last run left work to do: then the job is due again at once, not a period later.
    busy: Callable[[], bool] | None = None


def ingest_recent(*, settings: Settings, engine: Engine) -> str:
    """Fetch the last three days of Hugging Face Daily Papers and today's arXiv feeds."""
    client = PoliteClient(
        user_agent=settings.user_agent, timeout=settings.http_timeout, retries=settings.http_retries
    )
    today = datetime.now(UTC).date()
    lines = []
    for name, options in (
        (
            "hf-daily",
            {"days": [today - timedelta(days=i) for i in (2, 1, 0)], "base_url": settings.hf_base_url},
        ),
        ("arxiv-rss", {"categories": list(settings.rss_categories), "base_url": settings.arxiv_rss_url}),
    ):
        report = run_ingest(engine=engine, source=make_source(name, client=client, **options))
        lines.append(report.summary())
    client.close()
    return "; ".join(lines)


def embed_job(*, settings: Settings, engine: Engine) -> Job:
    """Embed up to EMBED_SLICE unclaimed papers per run, again at once while a backlog is left."""
    left = [0]

    def run() -> str:
        embedder = get_embedder(settings.embedding_model, device=settings.embedding_device)
        report = embed_missing(
            engine=engine,
            embedder=embedder,
            limit=EMBED_SLICE,
            index_dir=settings.data_dir / "index",
            ann_threshold=settings.ann_threshold,
        )
        left[0] = report.remaining if report.embedded else 0
        return report.summary()

    return Job("embed", timedelta(seconds=60), run, shared=True, busy=lambda: left[0] > 0)


def purge_expired(*, engine: Engine, now: datetime | None = None) -> str:
    """Delete expired sign-in links and sessions and stale rate-limit counters, in one transaction."""
    now = now or datetime.now(UTC)
    with transaction(engine) as conn:
        accounts = accounts_repo.purge_expired(conn=conn, now=now)
        counters = ratelimit.purge_stale(conn=conn, now=now)
    return f"{accounts} expired sign-in links and sessions, {counters} stale rate-limit counters deleted"


def categories_job(*, settings: Settings, engine: Engine) -> Job:
    """Look up the arXiv categories of papers that lack them, a few batches per ingest period (#14)."""
    client = PoliteClient(
        user_agent=settings.user_agent,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        min_interval=settings.arxiv_api_interval,
    )
    run = CategoriesJob(engine=engine, client=client, base_url=settings.arxiv_api_url)
    return Job("categories", timedelta(minutes=settings.ingest_interval_minutes), run)


def worker_leases(*, settings: Settings, engine: Engine) -> Leases:
    """This process's leases on the periodic jobs."""
    return Leases(engine=engine, lease=timedelta(seconds=settings.job_lease_seconds))


def default_jobs(*, settings: Settings, engine: Engine) -> list[Job]:
    """The single-machine schedule."""
    return [
        Job(
            "ingest",
            timedelta(minutes=settings.ingest_interval_minutes),
            lambda: ingest_recent(settings=settings, engine=engine),
        ),
        categories_job(settings=settings, engine=engine),
        embed_job(settings=settings, engine=engine),
        Job(
            "digest",
            timedelta(minutes=settings.digest_interval_minutes),
            make_digest_job(settings=settings, engine=engine),
        ),
        Job("purge", PURGE_EVERY, lambda: purge_expired(engine=engine)),
    ]


def _run(job: Job, leases: Leases | None) -> bool:
    """Run `job` unless another worker holds it or ran it this period; whether it ran here."""
    if leases is None or job.shared:
        log.info("job %s: %s", job.name, job.run())
        return True
    with leases.hold(name=job.name, every=job.every) as held:
        if held:
            log.info("job %s: %s", job.name, job.run())
        else:
            log.debug("job %s: not due here (another worker ran it or runs it now)", job.name)
    return held


def run_loop(
    jobs: list[Job],
    *,
    stop: threading.Event,
    clock: Callable[[], float] = time.monotonic,
    leases: Leases | None = None,
) -> None:
    """Run each job when due until `stop` is set; a failing job is logged and retried next period.

    With `leases`, a job runs only when this worker can take its lease (papertrend.leases).
    """
    while not stop.is_set():
        now = clock()
        for job in jobs:
            if stop.is_set() or now < job.next_due:
                continue
            started = clock()
            period = job.every
            try:
                if not _run(job, leases) and leases is not None:
                    # Ask again once a lease could have run out, to take over from a dead worker.
                    period = min(job.every, leases.lease)
            except Exception:
                log.exception("job %s failed; next try in %s", job.name, job.every)
            else:
                if job.busy is not None and job.busy():
                    period = timedelta(0)
            job.next_due = started + period.total_seconds()
        wait = min(job.next_due for job in jobs) - clock()
        stop.wait(max(wait, 1.0))
