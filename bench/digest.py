"""The daily email at scale (issue #5 item 9): personalised digests per second, and SIGKILL safety.

    .venv/bin/python bench/digest.py [--subscribers 10000] [--mode hybrid|keyword] [--model wordllama]
                                     [--library 50]
                                     [--kills 20] [--kill-concurrency 2] [--concurrency 2]
                                     [--database-url URL [--workers 1,2,4] [--sink-delay-ms 0]]

1. A store of the ~85k papers (the arXiv listing file and the Hugging Face archive), built once
   under var/bench/digest-85k/ and reused, with vectors of `--model` for hybrid search (wordllama by
   default: minilm would take about half an hour to embed 85k abstracts on two cores).
2. `--subscribers` confirmed subscribers, each with 1–3 topics drawn from a pool of interests (the
   opening words of random stored titles, plus a few written by hand), spread over time zones and
   send hours, all due at the bench's clock.
3. One `digest run` to a local aiosmtpd sink in its own process: digests/s end to end and the time
   of each stage (compose; then per message render, SMTP delivery, outbox records).
4. `--kills` times: 100 subscribers, the sender (`python -m papertrend.digest.cli run`) killed with
   SIGKILL at a random message — at a random instant, or inside the accepted-but-not-recorded
   window — then run again; prints how many runs left every subscriber exactly one message.

With `--database-url` (PostgreSQL, issue #6) steps 3 and 4 give way to several senders on one
database: the store is copied there once (`papertrend db copy`, about 8 minutes for the 85k papers)
and reused while it holds every paper and vector; then, for each N of `--workers`, the subscribers and
the outbox are made afresh and N `digest run` processes (each with its own data directory, as on its
own machine) send to one sink at once. A table gives digests/s per N, and the recipients that got
more than one copy of their edition or none: both must be zero. `--sink-delay-ms` makes the sink
take that long over each message, like a relay farther away. Kill runs only with `--kills`.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir, data_file

ROOT = Path(__file__).resolve().parents[1]
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


# ----------------------------------------------------------------------------------------- the sink


def serve_sink(port: int, out: Path, delay: float = 0.0) -> None:
    """An SMTP sink (run in its own process): appends `recipient<TAB>message-id` per message, each
    after `delay` seconds (a relay that takes its time, as a real one does)."""
    import asyncio

    from aiosmtpd.controller import Controller

    fh = out.open("a", buffering=1)
    mid = re.compile(rb"^Message-ID:\s*(\S+)", re.I | re.M)

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            if delay:
                await asyncio.sleep(delay)  # other connections go on meanwhile
            head = envelope.content.split(b"\r\n\r\n", 1)[0]
            found = mid.search(head)
            for rcpt in envelope.rcpt_tos:
                fh.write(f"{rcpt}\t{found.group(1).decode() if found else '-'}\n")
            return "250 OK"

    # Blocked before the server thread starts, so that sigwait below (not the default action) gets them.
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


def start_sink(out: Path, delay: float = 0.0) -> tuple[subprocess.Popen[bytes], int]:
    from tests.digest_support import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--sink", str(port), str(out), str(delay)], cwd=ROOT)
    deadline = time.monotonic() + 20
    import socket

    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the SMTP sink did not start")


def stop_sink(proc: subprocess.Popen[bytes]) -> float:
    """Stop the sink; the CPU seconds it used (user + system)."""
    proc.terminate()
    try:
        _, _, usage = os.wait4(proc.pid, 0)
    except ChildProcessError:
        proc.wait(10)
        return 0.0
    proc.returncode = 0
    return usage.ru_utime + usage.ru_stime


def received(out: Path) -> list[tuple[str, str]]:
    if not out.exists():
        return []
    return [tuple(line.split("\t", 1)) for line in out.read_text().splitlines() if "\t" in line]  # type: ignore[misc]


# ---------------------------------------------------------------------------------------- the store


def build_store(model: str, embed: bool) -> Path:
    """The 85k store (and vectors of `model` when `embed`), built once; its database path."""
    from papertrend.db import create_engine
    from papertrend.ingest.pipeline import run_ingest
    from papertrend.ingest.sources.hf_daily import HfDailySource
    from papertrend.ingest.sources.jsonl import JsonlSource
    from papertrend.migrate import upgrade

    folder = ROOT / "var" / "bench" / "digest-85k"
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

    with reading(engine) as conn:
        titles = (
            conn.execute(sa.select(papers.c.title).order_by(sa.func.random()).limit(size * 2)).scalars().all()
        )
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
        rows = conn.execute(
            sa.select(papers.c.pk, papers.c.authors)
            .where(listing_day_expr() < before)
            .order_by(sa.func.random())
            .limit(max(size * 20, 5_000))
        ).all()
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


# ------------------------------------------------------------------------------------ throughput run


def throughput(args: argparse.Namespace) -> None:
    from papertrend.config import Settings
    from papertrend.db import create_engine
    from papertrend.digest.ranking import make_ranker
    from papertrend.digest.run import run_digest

    db = build_store(args.model, embed=args.mode != "keyword")
    engine = create_engine(f"sqlite:///{db}")
    reset_digest_tables(engine)
    rng = random.Random(5)
    latest, now = bench_clock(engine)
    pool = topic_pool(engine, rng, args.topics)
    add_subscribers(engine, args.subscribers, pool=pool, rng=rng, confirmed=now - timedelta(days=30))
    add_libraries(
        engine,
        args.subscribers,
        size=args.library,
        rng=rng,
        before=latest - timedelta(days=7),
        added=now - timedelta(days=30),
    )
    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    sink, port = start_sink(work / "sink.tsv")
    os.environ.update(
        PAPERTREND_MAIL_RATE="0",
        PAPERTREND_MAIL_CONCURRENCY=str(args.concurrency),
        PAPERTREND_EMBEDDING_MODEL=args.model,
    )
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{db}",
        data_dir=work,
        mail_url=f"smtp://127.0.0.1:{port}",
        embedding_model=args.model,
    )
    try:
        t0 = time.perf_counter()
        ranker = make_ranker(settings, engine, mode=args.mode)
        # Load the model and warm the vector index outside the measured run, as a worker would.
        ranker("warm up", latest - timedelta(days=1), 5)
        warm = time.perf_counter() - t0
        from papertrend.library.foryou import KEYWORD_FILE

        kept = (db.parent / KEYWORD_FILE).exists()
        t0 = time.perf_counter()
        cpu0 = time.process_time()
        from papertrend.digest.foryou import LibraryRecommender
        from papertrend.digest.ranking import WindowRanker

        recommender = (
            # The keyword vectorizer is kept beside the store, as `digest run` keeps it in the data
            # directory: the first bench run fits it (inside the measured run), later runs read it.
            LibraryRecommender(
                engine=engine,
                embedder=ranker.embedder,
                method=args.for_you_method,
                cache_dir=db.parent,
                words=not args.no_words,
            )
            if isinstance(ranker, WindowRanker) and ranker.embedder is not None
            else None
        )
        report = run_digest(engine=engine, settings=settings, ranker=ranker, now=now, recommender=recommender)
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        time.sleep(0.5)
        got = received(work / "sink.tsv")
    finally:
        sink_cpu = stop_sink(sink)
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    d = report.delivery
    assert d is not None
    sent = d.sent
    s = report.seconds
    print(
        f"\nsubscribers {args.subscribers:,}  topic pool {len(pool)}  mode {args.mode}"
        f" ({args.model if args.mode != 'keyword' else 'no model'})  senders {args.concurrency}"
        f"  library {args.library} papers + 1 followed author each, For you method {args.for_you_method}"
        f"{' without keywords' if args.no_words else ''}"
    )
    print(f"model load + warm-up (not counted): {warm:.1f} s")
    print(f"keyword vectorizer: {'read from the kept file' if kept else 'fitted inside the measured run'}")
    print(f"{'stage':<26}{'seconds':>10}{'ms/digest':>12}")
    per = max(sent, 1)
    rows = [
        ("compose (plan+search+store)", s.get("compose", 0.0)),
        ("render", s.get("render", 0.0)),
        ("deliver (SMTP)", s.get("deliver", 0.0)),
        ("outbox records + claims", s.get("record", 0.0)),
    ]
    for name, sec in rows:
        print(f"{name:<26}{sec:>10.2f}{sec / per * 1000:>12.2f}")
    print(f"{'end to end':<26}{wall:>10.2f}{wall / per * 1000:>12.2f}")
    print(
        f"\ndigests sent {sent:,} (sink received {len(got):,}; {report.compose.empty} had nothing new), "
        f"{report.compose.searches} topic searches"
    )
    print(f"digests/s end to end: {sent / wall:.0f}")
    # Wall time on a shared machine says as much about the neighbours as about us: CPU time per
    # message is steadier. The sender and the sink each use one core at most (one thread each).
    compose_cpu = s.get("compose cpu", 0.0) / per * 1000
    deliver_cpu = s.get("deliver cpu", 0.0) / per * 1000
    sink = sink_cpu / per * 1000
    # Composing runs before delivery; during delivery the sender and the sink overlap.
    bound = compose_cpu + max(deliver_cpu, sink)
    print(
        f"CPU per digest: compose {compose_cpu:.2f} ms, render + deliver + record {deliver_cpu:.2f} ms, "
        f"SMTP sink {sink:.2f} ms (all of papertrend's process: {cpu / per * 1000:.2f} ms)\n"
        f"with a free core each for the sender and the sink: about {1000 / max(bound, 1e-9):.0f} digests/s"
    )


# ------------------------------------------------------------------------ several senders, one database


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


def start_senders(
    n: int, *, url: str, port: int, work: Path, now: datetime, args: argparse.Namespace
) -> list[subprocess.Popen[bytes]]:
    """`n` `digest run` processes at once, each with its own data directory (journal) and log."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=url,
        PAPERTREND_MAIL_URL=f"smtp://127.0.0.1:{port}",
        PAPERTREND_MAIL_RATE="0",
        PAPERTREND_MAIL_CONCURRENCY=str(args.concurrency),
        PAPERTREND_EMBEDDING_MODEL=args.model,
    )
    cmd = [
        sys.executable,
        "-m",
        "papertrend.digest.cli",
        "run",
        "--now",
        now.isoformat(),
        "--mode",
        args.mode,
    ]
    procs = []
    for i in range(n):
        with (work / f"sender{i}.log").open("wb") as log:
            procs.append(
                subprocess.Popen(
                    cmd,
                    env={**env, "PAPERTREND_DATA_DIR": str(work / f"sender{i}")},
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            )
    return procs


def outcome(engine: Any, got: list[tuple[str, str]]) -> tuple[int, int, int, Counter[str]]:
    """(digests delivered, recipients with more than one copy of their edition, due recipients with
    none, edition statuses), from the outbox and what the sink received."""
    from papertrend.db import reading
    from papertrend.digest.tables import digest_editions, subscriptions

    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(subscriptions.c.email_key, digest_editions.c.message_id, digest_editions.c.status).join(
                subscriptions, subscriptions.c.id == digest_editions.c.subscription_id
            )
        ).all()
    copies = Counter((rcpt.lower(), mid) for rcpt, mid in got)
    # An edition composed empty is never mailed; every other one must arrive exactly once.
    due = [(str(email), str(mid)) for email, mid, status in rows if status != "empty"]
    delivered = sum(1 for key in due if copies[key] >= 1)
    duplicates = sum(1 for key in due if copies[key] > 1)
    lost = sum(1 for key in due if copies[key] == 0)
    return delivered, duplicates, lost, Counter(str(status) for _, _, status in rows)


def several_senders(args: argparse.Namespace) -> bool:
    """N `digest run` processes on one database, for each N of --workers; whether all were exact."""
    from papertrend.db import create_engine

    db = build_store(args.model, embed=args.mode != "keyword")
    copy_store(args.database_url, db)
    engine = create_engine(args.database_url)
    latest, now = bench_clock(engine)
    pool = topic_pool(engine, random.Random(5), args.topics)
    work = Path(tempfile.mkdtemp(prefix="digest-bench-"))
    results = []
    exact = True
    try:
        # What every process pays before its first digest: start, migrations check, model load.
        reset_digest_tables(engine)
        (work / "idle").mkdir()
        sink, port = start_sink(work / "idle" / "sink.tsv")
        try:
            t0 = time.perf_counter()
            [idle] = start_senders(
                1, url=args.database_url, port=port, work=work / "idle", now=now, args=args
            )
            idle.wait()
            fixed = time.perf_counter() - t0
        finally:
            stop_sink(sink)
        for n in args.workers:
            reset_digest_tables(engine)
            # The same subscribers for every N.
            rng = random.Random(6)
            add_subscribers(engine, args.subscribers, pool=pool, rng=rng, confirmed=now - timedelta(days=30))
            run_dir = work / f"workers-{n}"
            run_dir.mkdir()
            sink, port = start_sink(run_dir / "sink.tsv", delay=args.sink_delay_ms / 1000)
            try:
                t0 = time.perf_counter()
                procs = start_senders(n, url=args.database_url, port=port, work=run_dir, now=now, args=args)
                codes = [p.wait() for p in procs]
                wall = time.perf_counter() - t0
                time.sleep(0.5)
                got = received(run_dir / "sink.tsv")
            finally:
                stop_sink(sink)
            logs = [(run_dir / f"sender{i}.log").read_text(errors="replace") for i in range(n)]
            sent = [m.group(1) if (m := re.search(r"delivery:\s+(\d+)\s+sent", log)) else "?" for log in logs]
            for i, code in enumerate(codes):
                if code != 0:
                    print(f"sender {i + 1} of {n} exited {code}:\n{logs[i][-3000:]}", flush=True)
            delivered, duplicates, lost, statuses = outcome(engine, got)
            exact = exact and duplicates == 0 and lost == 0 and not any(codes)
            results.append((n, delivered, wall, duplicates, lost, "/".join(sent), statuses, len(got)))
            print(f"  {n} senders: {delivered:,} digests in {wall:.1f} s", flush=True)
    finally:
        # The last run's subscribers and outbox stay to be looked at; the next run starts afresh.
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nsubscribers {args.subscribers:,}  topic pool {len(pool)}  mode {args.mode}"
        f" ({args.model if args.mode != 'keyword' else 'no model'})  SMTP connections per sender"
        f" {args.concurrency}  edition of {latest}  sink delay {args.sink_delay_ms:g} ms a message"
    )
    print(f"database {sa.make_url(args.database_url).render_as_string()}")
    print(
        f"one `digest run` with nothing due (start, migrations check, model load): {fixed:.1f} s, in each row"
    )
    head = f"{'workers':>7}{'digests':>9}{'seconds':>9}{'digests/s':>11}{'duplicates':>12}{'lost':>6}"
    print(f"{head}  sent per sender")
    for n, delivered, wall, duplicates, lost, per_sender, _, _ in results:
        print(
            f"{n:>7}{delivered:>9,}{wall:>9.1f}{delivered / wall:>11.0f}{duplicates:>12}{lost:>6}"
            f"  {per_sender}"
        )
    for n, _, _, _, _, _, statuses, sink_count in results:
        print(f"  {n} senders: editions {dict(sorted(statuses.items()))}, sink received {sink_count:,}")
    print("exactly once: " + ("yes, every run" if exact else "NO: see duplicates, lost and exit codes above"))
    return exact


# ---------------------------------------------------------------------------------------- kill runs


def kill_runs(args: argparse.Namespace) -> None:
    from tests.digest_support import add_papers, paper
    from tests.digest_support import add_subscribers as add_real_subscribers

    from papertrend.db import create_engine, reading
    from papertrend.digest.tables import digest_editions
    from papertrend.migrate import upgrade

    rng = random.Random(args.kill_seed)
    ok = losses = duplicates = 0
    kinds: Counter[str] = Counter()
    day = date(2026, 6, 23)
    now = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8, minutes=30)
    for run in range(args.kills):
        work = Path(tempfile.mkdtemp(prefix="digest-kill-"))
        db = work / "k.db"
        engine = create_engine(f"sqlite:///{db}")
        upgrade(engine)
        add_papers(engine, [paper(f"2606.{i:05d}", f"Paper {i}", day=day, upvotes=i) for i in range(1, 6)])
        add_real_subscribers(engine, 100, confirmed_at=now - timedelta(days=3))
        sink, port = start_sink(work / "sink.tsv")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
        env.update(
            PAPERTREND_ENV="test",
            PAPERTREND_DATABASE_URL=f"sqlite:///{db}",
            PAPERTREND_DATA_DIR=str(work),
            PAPERTREND_MAIL_URL=f"smtp://127.0.0.1:{port}",
            PAPERTREND_MAIL_RATE="0",
            PAPERTREND_MAIL_CONCURRENCY=str(args.kill_concurrency),
        )
        k = rng.randint(1, 99)
        # Half the kills at the instant the k-th message lands (just after the server accepted it,
        # the hardest instant for the journal), the rest at chosen points around the final dot.
        kind = rng.choice(["instant", "instant", "instant", "before_dot", "after_dot", "after_reply"])
        kinds[kind] += 1
        first_env = dict(env)
        marker = work / "paused"
        if kind != "instant":
            first_env.update(
                PAPERTREND_TEST_MAIL_PAUSE=f"{kind}:{k}", PAPERTREND_TEST_MAIL_PAUSE_FILE=str(marker)
            )
        cmd = [sys.executable, "-m", "papertrend.digest.cli", "run", "--mode", "keyword", "--now"]
        try:
            first = subprocess.Popen(
                [*cmd, now.isoformat()],
                env=first_env,
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if (kind == "instant" and len(received(work / "sink.tsv")) >= k) or marker.exists():
                    break
                time.sleep(0.002)
            if kind == "after_dot":
                time.sleep(0.05)  # let the server read the dot it was sent
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            before = len(received(work / "sink.tsv"))
            subprocess.run(
                [*cmd, (now + timedelta(minutes=5)).isoformat()],
                env=env,
                cwd=ROOT,
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=120,
            )
            time.sleep(0.2)
            got = received(work / "sink.tsv")
            with reading(engine) as conn:
                expected = {mid for (mid,) in conn.execute(sa.select(digest_editions.c.message_id))}
                statuses = set(conn.execute(sa.select(digest_editions.c.status)).scalars())
            per = Counter(rcpt for rcpt, _ in got)
            lost = 100 - len(per)
            doubled = sum(1 for n in per.values() if n > 1)
            exact = lost == 0 and doubled == 0 and {m for _, m in got} == expected and statuses == {"sent"}
            ok += exact
            losses += lost
            duplicates += doubled
            print(
                f"kill run {run + 1:>2}: {kind:<12} k={k:<3} received before kill {before:>3}, "
                f"after rerun {len(got):>3}, lost {lost}, duplicated {doubled} "
                f"→ {'exactly once' if exact else 'NOT exactly once'}",
                flush=True,
            )
        finally:
            stop_sink(sink)
            engine.dispose()
            shutil.rmtree(work, ignore_errors=True)
    print(
        f"\nexactly-once in {ok} of {args.kills} SIGKILL runs ({dict(kinds)}; "
        f"{args.kill_concurrency} connections): {losses} messages lost, {duplicates} duplicated"
    )


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--sink":
        serve_sink(int(sys.argv[2]), Path(sys.argv[3]), float(sys.argv[4]))
        return
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--topics", type=int, default=400, help="size of the pool topics are drawn from")
    parser.add_argument("--mode", choices=["hybrid", "semantic", "keyword", "searcher"], default="hybrid")
    parser.add_argument("--model", default="wordllama")
    parser.add_argument(
        "--library",
        type=int,
        default=50,
        help="papers saved by each subscriber's account (0: no accounts; #13)",
    )
    parser.add_argument(
        "--for-you-method",
        choices=["auto", "nearest"],
        default="auto",
        help="the library recommender's method (#13): auto fits a per-reader model, nearest does not",
    )
    parser.add_argument(
        "--no-words",
        action="store_true",
        help="the library recommender without its keyword (TF-IDF) model: vectors only (#13)",
    )
    parser.add_argument("--concurrency", type=int, default=2, help="SMTP connections (the app default)")
    parser.add_argument(
        "--kills", type=int, default=None, help="SIGKILL runs (default 20; none with --database-url)"
    )
    parser.add_argument("--kill-concurrency", type=int, default=2, help="connections in the kill runs")
    parser.add_argument("--kill-seed", type=int, default=11, help="picks each run's kill point and k")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--database-url",
        help="run several senders on this database (PostgreSQL; the store is copied there once)",
    )
    parser.add_argument(
        "--sink-delay-ms",
        type=float,
        default=0.0,
        help="with --database-url: the sink takes this long over each message, as a relay farther "
        "away does (several senders help where the relay, not the CPU, is what they wait for)",
    )
    parser.add_argument(
        "--workers",
        type=lambda v: [int(n) for n in v.split(",")],
        default=None,
        help="with --database-url: how many `digest run` processes at once, e.g. 1,2,4 (the default)",
    )
    args = parser.parse_args()
    if not (ROOT / "var" / "bench" / "digest-85k" / "ingested").exists():
        data_dir(args.data, LISTING, HF_DAYS)
    if (args.workers is not None or args.sink_delay_ms) and not args.database_url:
        parser.error("--workers and --sink-delay-ms need --database-url")
    if args.workers is not None and (not args.workers or min(args.workers) < 1):
        parser.error("--workers takes positive counts, e.g. 1,2,4")
    args.workers = args.workers or [1, 2, 4]
    if args.kills is None:
        args.kills = 0 if args.database_url else 20
    # Only warnings: a model package or migrations would otherwise log at INFO between the tables.
    logging.basicConfig(level=logging.WARNING)
    exact = True
    if args.database_url and not args.skip_throughput:
        exact = several_senders(args)
    elif not args.skip_throughput:
        throughput(args)
    if args.kills:
        logging.getLogger().setLevel(logging.WARNING)
        kill_runs(args)
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
