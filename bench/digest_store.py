"""The store and the subscribers of bench/digest.py: the 85k papers (built once, with vectors of a
model), confirmed subscribers with topics, accounts with libraries and followed authors (#13), the
bench's clock, and the PostgreSQL copy that several senders share (#6)."""

from __future__ import annotations

import random
import re
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from benchdata import HF_DAYS, LISTING, data_file

ROOT = Path(__file__).resolve().parents[1]
# Where the store is built (a symlink may point it elsewhere, as a cache folder).
STORE = ROOT / "var" / "bench" / "digest-85k"
ZONES = ["UTC", "Europe/London", "Europe/Paris", "America/New_York", "America/Los_Angeles", "Asia/Tokyo"]
ZONES += ["Asia/Shanghai", "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo"]
HAND_TOPICS = [
    "LLM agents that simulate human behaviour",
    "diffusion models for video generation",
    "retrieval-augmented generation",
    "reinforcement learning from human feedback",
    "graph neural networks for molecules",
    "efficient attention for long context",
    "vision-language models",
    "robot manipulation from demonstrations",
    "speech recognition for low-resource languages",
    "mechanistic interpretability",
]


def build_store(model: str, embed: bool) -> Path:
    """The 85k store (and vectors of `model` when `embed`), built once; its database path."""
    from papertrend.db import create_engine
    from papertrend.ingest.pipeline import run_ingest
    from papertrend.ingest.sources.hf_daily import HfDailySource
    from papertrend.ingest.sources.jsonl import JsonlSource
    from papertrend.migrate import upgrade

    folder = STORE
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "bench.db"
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine)
    if not (folder / "ingested").exists():
        t0 = time.perf_counter()
        run_ingest(engine=engine, source=JsonlSource(path=data_file(LISTING)))
        run_ingest(engine=engine, source=HfDailySource(from_file=data_file(HF_DAYS)))
        (folder / "ingested").touch()
        print(f"store: ingested in {time.perf_counter() - t0:.0f} s", flush=True)
    if embed and not (folder / f"embedded-{model}").exists():
        from papertrend.search.embed_job import embed_missing
        from papertrend.search.embedder import get_embedder

        t0 = time.perf_counter()
        report = embed_missing(engine=engine, embedder=get_embedder(model))
        (folder / f"embedded-{model}").touch()
        print(f"store: {report.summary()} in {time.perf_counter() - t0:.0f} s", flush=True)
    engine.dispose()
    return db


def reset_digest_tables(engine: Any) -> None:
    from papertrend.db import transaction
    from papertrend.digest.tables import (
        digest_editions,
        rate_limits,
        sent_papers,
        subscription_tokens,
        subscriptions,
        suppressions,
    )

    with transaction(engine) as conn:
        for table in (
            sent_papers,
            digest_editions,
            subscription_tokens,
            suppressions,
            rate_limits,
            subscriptions,
        ):
            conn.execute(table.delete())


def bench_clock(engine: Any) -> tuple[date, datetime]:
    """The latest day of a full arXiv listing (hundreds of papers), not a thin day of the Hugging
    Face archive, so the window each subscriber's topics are ranked over is a real day's worth; and
    the bench's clock, late that day, when every subscriber's edition is due."""
    from papertrend.db import reading
    from papertrend.papers.repository import listing_day_expr

    with reading(engine) as conn:
        day = listing_day_expr()
        latest = conn.execute(
            sa.select(day)
            .where(day.is_not(None))
            .group_by(day)
            .having(sa.func.count() >= 200)
            .order_by(day.desc())
        ).scalar()
    assert latest is not None
    latest = latest if isinstance(latest, date) else date.fromisoformat(str(latest))
    return latest, datetime.combine(latest, datetime.min.time(), UTC) + timedelta(hours=23, minutes=30)


def topic_pool(engine: Any, rng: random.Random, size: int) -> list[str]:
    from papertrend.db import reading
    from papertrend.papers.tables import papers

    # Drawn by `rng`, not ORDER BY random(): the same subscribers every run, so runs (and their
    # picks, bench/digest_picks.py) compare.
    with reading(engine) as conn:
        pks = conn.execute(sa.select(papers.c.pk).order_by(papers.c.pk)).scalars().all()
        chosen = rng.sample(list(pks), min(size * 2, len(pks)))
        by_pk = dict(
            conn.execute(sa.select(papers.c.pk, papers.c.title).where(papers.c.pk.in_(chosen))).all()
        )
    titles = [by_pk[pk] for pk in chosen]
    pool = list(HAND_TOPICS)
    for title in titles:
        words = re.sub(r"[^\w\s-]", " ", title).split()
        if len(words) >= 3:
            pool.append(" ".join(words[: rng.randint(3, 6)]).lower())
        if len(pool) >= size:
            break
    return pool


def add_subscribers(engine: Any, n: int, *, pool: list[str], rng: random.Random, confirmed: datetime) -> None:
    """`n` confirmed subscribers, inserted directly (setting them up is not what is measured)."""
    import secrets

    from papertrend.db import transaction
    from papertrend.digest.tables import subscriptions

    rows = []
    for i in range(n):
        rows.append(
            {
                "email": f"reader{i}@example.org",
                "email_key": f"reader{i}@example.org",
                "status": "confirmed",
                "cadence": "weekly" if rng.random() < 0.1 else "daily",
                "send_hour": rng.randint(0, 23),
                "send_weekday": rng.randint(0, 6),
                "timezone": rng.choice(ZONES),
                "topics": rng.sample(pool, rng.randint(1, 3)),
                "include_keywords": [],
                "exclude_keywords": ["survey"] if rng.random() < 0.2 else [],
                "categories": [],
                "paused": False,
                "link_salt": secrets.token_hex(16),
                "created_at": confirmed,
                "updated_at": confirmed,
                "confirmed_at": confirmed,
            }
        )
    with transaction(engine) as conn:
        conn.execute(subscriptions.insert(), rows)


def add_libraries(
    engine: Any, n: int, *, size: int, rng: random.Random, before: date, added: datetime
) -> None:
    """An account for each of the first `n` subscribers (same address) with a "Saved" collection of
    `size` papers listed before `before`, and one followed author (#13): "For you" from libraries."""
    from papertrend.accounts.tables import users
    from papertrend.db import reading, transaction
    from papertrend.library.tables import collection_papers, collections, followed_authors
    from papertrend.papers.repository import listing_day_expr
    from papertrend.papers.tables import papers

    if n <= 0 or size <= 0:
        return
    with reading(engine) as conn:
        every = conn.execute(
            sa.select(papers.c.pk, papers.c.authors).where(listing_day_expr() < before).order_by(papers.c.pk)
        ).all()
    # Drawn by `rng`, as the subscribers are: the same libraries every run (ORDER BY random() gave
    # each run new ones, whose keyword rows were computed afresh, unlike a day's run after another).
    rows = rng.sample(list(every), min(max(size * 20, 5_000), len(every)))
    pks = [int(r.pk) for r in rows]
    names = [str(r.authors[0]) for r in rows if r.authors]
    with transaction(engine) as conn:
        for table in (followed_authors, collection_papers, collections, users):
            conn.execute(table.delete())
        conn.execute(
            users.insert(),
            [
                {
                    "id": i + 1,
                    "email": f"reader{i}@example.org",
                    "email_key": f"reader{i}@example.org",
                    "created_at": added,
                }
                for i in range(n)
            ],
        )
        conn.execute(
            collections.insert(),
            [{"id": i + 1, "user_id": i + 1, "name": "Saved", "created_at": added} for i in range(n)],
        )
        conn.execute(
            collection_papers.insert(),
            [
                {"collection_id": i + 1, "paper_pk": pk, "added_at": added}
                for i in range(n)
                for pk in rng.sample(pks, size)
            ],
        )
        from papertrend.library.service import author_key

        picked = [rng.choice(names) for _ in range(n)]
        conn.execute(
            followed_authors.insert(),
            [
                {"user_id": i + 1, "name_key": author_key(a)[:300], "name": a[:300], "created_at": added}
                for i, a in enumerate(picked)
            ],
        )


def create_database(url: str) -> None:
    """Create the PostgreSQL database `url` names unless it exists (SQLite files create themselves)."""
    from papertrend.db import create_engine

    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return
    admin = create_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        with admin.connect() as conn:
            # CREATE DATABASE cannot run inside a transaction.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            found = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": parsed.database}
            ).scalar()
            if not found:
                conn.exec_driver_sql(f'CREATE DATABASE "{parsed.database}"')
    finally:
        admin.dispose()


def store_counts(engine: Any) -> tuple[int, dict[str, int]]:
    """Papers, and vectors per model."""
    from papertrend.db import reading
    from papertrend.papers.tables import papers
    from papertrend.search.tables import embeddings

    with reading(engine) as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
        models = conn.execute(sa.select(embeddings.c.model, sa.func.count()).group_by(embeddings.c.model))
        return int(n), {str(m): int(c) for m, c in models}


def copy_store(url: str, source_db: Path) -> None:
    """The 85k store at `url`: copied once from the SQLite one, then reused while it holds every paper
    and vector of it (the copy took about 8 minutes to PostgreSQL; a rerun resumes an interrupted one)."""
    from papertrend import dbcopy
    from papertrend.db import create_engine
    from papertrend.migrate import upgrade

    create_database(url)
    source, target = create_engine(f"sqlite:///{source_db}"), create_engine(url)
    try:
        upgrade(target)
        have, want = store_counts(target), store_counts(source)
        if have == want:
            print(f"store: reusing {have[0]:,} papers at {target.url.render_as_string()}", flush=True)
            return
        print(f"store: copying {want[0]:,} papers to {target.url.render_as_string()} (once)", flush=True)
        # Subscribers and outbox are made afresh for every run: they need not travel, and a target's
        # leftovers would make the copy refuse (more rows there than in the source).
        reset_digest_tables(source)
        reset_digest_tables(target)

        def progress(table: str, done: int, total: int) -> None:
            if done == total:
                print(f"  {table}: {total:,} rows", flush=True)

        report = dbcopy.copy_database(source=source, target=target, progress=progress)
        if not report.ok:
            bad = [t.table for t in report.tables if not t.ok]
            raise SystemExit(f"the copy does not match the store: {', '.join(bad)}")
        print(f"store: copied and verified in {report.seconds:.0f} s", flush=True)
    finally:
        source.dispose()
        target.dispose()
