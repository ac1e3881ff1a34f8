"""The daily email at scale (issue #5 item 9): personalised digests per second, and SIGKILL safety.

    .venv/bin/python bench/digest.py [--subscribers 10000] [--mode hybrid|keyword] [--model wordllama]
                                     [--library 50] [--no-words] [--profile FILE] [--picks FILE]
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

`--profile FILE` runs cProfile over the measured `digest run` (step 3) and prints its top functions;
`--picks FILE` writes every subscriber's "For you" picks and stored edition, which
`bench/digest_picks.py A B` compares (a speed-up must not change them).
The last line is the summary, `key=value` pairs. The store and subscribers are in digest_store.py,
the SMTP sink in digest_sink.py, several senders in digest_senders.py, the kill runs in
digest_kills.py.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir
from digest_kills import kill_runs
from digest_senders import several_senders
from digest_sink import received, start_sink, stop_sink
from digest_store import (
    STORE,
    add_libraries,
    add_subscribers,
    bench_clock,
    build_store,
    reset_digest_tables,
    topic_pool,
)

ROOT = Path(__file__).resolve().parents[1]


def throughput(args: argparse.Namespace) -> dict[str, float]:
    """One `digest run` of `--subscribers` to the sink: prints the stages; returns the summary's numbers."""
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
        from digest_picks import Recording, write_picks
        from papertrend.digest.ranking import WindowRanker

        recommender = (
            # The keyword vectorizer is kept beside the store, as `digest run` keeps it in the data
            # directory: the first bench run fits it (inside the measured run), later runs read it.
            # One background sample for every run (by default it is the day's), so runs compare.
            Recording(
                engine=engine,
                embedder=ranker.embedder,
                method=args.for_you_method,
                cache_dir=db.parent,
                words=not args.no_words,
                sample_seed="bench",
            )
            if isinstance(ranker, WindowRanker) and ranker.embedder is not None
            else None
        )
        # compose_due starts at a random chunk (several senders, #6); the first window to rank a
        # topic decides how common it is, so a fixed start keeps the picks of two runs comparable.
        random.seed(args.subscribers)
        # CPU time, not wall time: on the shared machine a function's wall time is mostly waiting.
        profiler = cProfile.Profile(time.process_time) if args.profile else None
        if profiler is not None:
            profiler.enable()
        report = run_digest(engine=engine, settings=settings, ranker=ranker, now=now, recommender=recommender)
        if profiler is not None:
            profiler.disable()
        wall = time.perf_counter() - t0
        cpu = time.process_time() - cpu0
        time.sleep(0.5)
        got = received(work / "sink.tsv")
        if args.picks:
            write_picks(Path(args.picks), engine, recommender.recorded if recommender is not None else {})
    finally:
        sink_cpu = stop_sink(sink)
        engine.dispose()
        shutil.rmtree(work, ignore_errors=True)
    if profiler is not None:
        profiler.dump_stats(args.profile)
        print(f"profile of the measured run written to {args.profile}; its top functions by own CPU time:")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)
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
    return {
        "digests": sent,
        "digests_per_s": round(sent / wall, 1),
        "compose_cpu_ms": round(compose_cpu, 2),
        "deliver_cpu_ms": round(deliver_cpu, 2),
        "sink_cpu_ms": round(sink, 2),
        "process_cpu_ms": round(cpu / per * 1000, 2),
        "cpu_bound_per_s": round(1000 / max(bound, 1e-9)),
        "load": round(os.getloadavg()[0], 1),
    }


def main() -> None:
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
        "--profile",
        metavar="FILE",
        help="profile the measured run with cProfile: stats written to FILE, the top printed",
    )
    parser.add_argument(
        "--picks",
        metavar="FILE",
        help="write every subscriber's For you picks and stored edition to FILE (JSON), to compare two "
        "runs with bench/digest_picks.py",
    )
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
    if not (STORE / "ingested").exists():
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
    summary: dict[str, object] = {}
    if args.database_url and not args.skip_throughput:
        exact = several_senders(args)
        summary["exactly_once"] = "yes" if exact else "no"
    elif not args.skip_throughput:
        summary.update(throughput(args))
    if args.kills:
        logging.getLogger().setLevel(logging.WARNING)
        exact_kills, lost, doubled = kill_runs(args)
        summary.update(kill_runs_exact=f"{exact_kills}/{args.kills}", kill_lost=lost, kill_duplicated=doubled)
    print(" ".join(f"{key}={value}" for key, value in summary.items()))
    if not exact:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
