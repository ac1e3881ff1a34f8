"""A whole `digest run`: purge, compose every due edition, deliver everything due (issue #5)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import transaction
from papertrend.digest import digest_settings
from papertrend.digest.compose import Composer, ComposeReport, Ranker, Recommender, compose_due
from papertrend.digest.foryou import LibraryRecommender
from papertrend.digest.outbox import DeliveryReport, Policy
from papertrend.digest.ranking import WindowRanker
from papertrend.digest.sender import deliver
from papertrend.digest.subscriptions import purge_expired
from papertrend.mail.factory import describe, journal_for, make_mailer
from papertrend.mail.message import mail_context
from papertrend.mail.protocol import Mailer
from papertrend.mail.smtp import Pause
from papertrend.rank import TrendParams

log = logging.getLogger("papertrend.digest")


@dataclass
class RunReport:
    """A whole `digest run`: compose, then deliver."""

    compose: ComposeReport
    delivery: DeliveryReport | None
    purged: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def summary(self) -> str:
        parts = [f"compose: {self.compose.summary()}"]
        if self.delivery is not None:
            parts.append(f"delivery: {self.delivery.summary()}")
        if self.purged:
            parts.append(f"{self.purged} unconfirmed subscriptions expired")
        return "; ".join(parts)


def make_composer(
    *, engine: Engine, settings: Settings, ranker: Ranker, recommender: Recommender | None = None
) -> Composer:
    """The composer of `digest run` and `digest preview` alike: "For you" from the library recommender
    (digest/foryou.py) whenever a model is loaded, the ranker's unless one is passed; keyword-only
    runs keep ranking topics by words (#13)."""
    ds = digest_settings(settings)
    if recommender is None and isinstance(ranker, WindowRanker) and ranker.embedder is not None:
        recommender = LibraryRecommender(engine=engine, embedder=ranker.embedder, cache_dir=settings.data_dir)
    return Composer(
        engine=engine,
        ranker=ranker,
        recommender=recommender,
        n_trending=ds.digest_trending,
        n_for_you=ds.digest_for_you,
        trend=TrendParams(gravity=settings.trending_gravity, offset_hours=settings.trending_offset_hours),
    )


def run_digest(
    *,
    engine: Engine,
    settings: Settings,
    ranker: Ranker,
    now: datetime | None = None,
    dry_run: bool = False,
    mailer_factory: Callable[[], Mailer] | None = None,
    recommender: Recommender | None = None,
) -> RunReport:
    """Compose every due edition and deliver everything due: safe to run at any time, any number of
    times; "For you" as `make_composer` makes it."""
    ds = digest_settings(settings)
    now = now or datetime.now(UTC)
    ctx = mail_context(settings)
    seconds: dict[str, float] = {}
    purged = 0
    if not dry_run:
        with transaction(engine) as conn:
            purged = purge_expired(conn=conn, now=now)
    composer = make_composer(engine=engine, settings=settings, ranker=ranker, recommender=recommender)
    started, cpu = time.perf_counter(), time.process_time()
    composed = compose_due(
        engine=engine, composer=composer, now=now, secret=ctx.secret, domain=ctx.domain, dry_run=dry_run
    )
    seconds["compose"] = time.perf_counter() - started
    # CPU seconds too: on a busy machine they say more about the code than wall time does.
    seconds["compose cpu"] = time.process_time() - cpu
    if dry_run:
        return RunReport(composed, None, 0, seconds)
    journal = journal_for(settings)
    if mailer_factory is None:
        pause = Pause.from_env()

        def factory() -> Mailer:
            return make_mailer(settings.mail_url, journal=journal, timeout=ds.mail_timeout, pause=pause)

        mailer_factory = factory
    cpu = time.process_time()
    try:
        delivery, timings = deliver(
            engine=engine,
            mailer_factory=mailer_factory,
            ctx=ctx,
            policy=Policy.of(ds),
            now=now,
            concurrency=ds.mail_concurrency,
            rate=ds.mail_rate,
            journal=journal,
        )
    finally:
        journal.close()
    seconds.update(timings)
    seconds["deliver cpu"] = time.process_time() - cpu
    journal.prune()
    report = RunReport(composed, delivery, purged, seconds)
    log.info("digest.run: %s", report.summary(), extra={"mail": describe(settings.mail_url)})
    return report
