"""Ingest benchmark (issues #2, #15): papers/s and peak RSS of `papertrend ingest` into a fresh
database, and of ingesting the same file again. Each run is a separate process, so peak RSS is that
run's own; the keyword index is included (its sync runs inside the ingest command). Prints a table
and a `key=value` summary line; exits 0.

    .venv/bin/python bench/ingest.py [--data DIR] [--postgres ADMIN_URL] [--only listing|hf]

SQLite by default (a file in a temporary folder); with `--postgres` each case gets a fresh database
on that server (made and dropped by the bench). The data folder holds the keyword index either way.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir

ROOT = Path(__file__).resolve().parents[1]
_SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) rejected")


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, float, tuple[int, ...]]:
    """Run one CLI ingest in a child process; return seconds, the child's CPU seconds (user + system:
    steadier than the wall clock on shared cores), its peak RSS in MB, and counts."""
    # Migrate first so the timing is the ingest alone.
    subprocess.run(
        [sys.executable, "-m", "papertrend", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "papertrend", *args], env=env, stdout=out, stderr=out, text=True
        )
        # wait4 gives this child's own rusage, so peak RSS is the ingest's alone.
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        out.seek(0)
        text = out.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"ingest failed:\n{text}")
    m = _SUMMARY.search(text)
    assert m, text
    cpu = usage.ru_utime + usage.ru_stime
    return seconds, cpu, usage.ru_maxrss / 1024, tuple(int(x) for x in m.groups())


def _fresh_database(admin_url: str | None, tmp: Path) -> tuple[str, sa.Engine | None, str]:
    """A URL for an empty database: a file under tmp, or a new database on the PostgreSQL server."""
    if admin_url is None:
        return f"sqlite:///{tmp / 'bench.db'}", None, ""
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    return url, admin, name


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--postgres", metavar="ADMIN_URL", help="run on this PostgreSQL server")
    parser.add_argument("--only", choices=("listing", "hf"), help="run one of the two inputs")
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, LISTING, HF_DAYS)
    cases = [
        ("listing", "arXiv listing (74,728)", ["ingest", "jsonl", str(ns.data / LISTING)]),
        (
            "hf",
            "HF archive (9,881 paper-days)",
            ["ingest", "hf-daily", "--from-file", str(ns.data / HF_DAYS)],
        ),
    ]
    rows = []
    keys: list[tuple[str, str]] = []
    for key, label, args in cases:
        if ns.only and key != ns.only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            url, admin, name = _fresh_database(ns.postgres, Path(tmp))
            env = {
                **os.environ,
                "PAPERTREND_DATABASE_URL": url,
                "PAPERTREND_DATA_DIR": str(Path(tmp) / "data"),
                "PAPERTREND_ENV": "test",
            }
            try:
                for run_name in ("fresh", "again"):
                    seconds, cpu, rss, counts = run(args, env)
                    records = sum(counts)
                    rows.append((label, run_name, records, seconds, records / seconds, cpu, rss, counts))
                    keys.append((key, run_name))
            finally:
                if admin is not None:
                    with admin.connect() as conn:
                        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"database: {'postgresql' if ns.postgres else 'sqlite'}; load {os.getloadavg()[0]:.2f}")
    print(
        f"{'input':<30} {'run':<6} {'records':>8} {'seconds':>8} {'papers/s':>9} {'CPU s':>7}"
        f" {'CPU s/1k':>8} {'peak RSS MB':>12}  added/updated/unchanged/rejected"
    )
    for label, run_name, records, seconds, rate, cpu, rss, counts in rows:
        print(
            f"{label:<30} {run_name:<6} {records:>8,} {seconds:>8.2f} {rate:>9,.0f} {cpu:>7.1f}"
            f" {cpu * 1000 / records:>8.3f} {rss:>12.0f}  {'/'.join(map(str, counts))}"
        )
    # One line for scripts: per input and run, papers/s (wall: follows the load) and CPU s per 1,000
    # papers (steadier on shared cores), then the load it ran under.
    summary = [
        f"{key}_{run_name}_per_s={rate:.0f} {key}_{run_name}_cpu_s_per_1k={cpu * 1000 / records:.3f}"
        for (key, run_name), (_, _, records, _, rate, cpu, _, _) in zip(keys, rows, strict=True)
    ]
    print(" ".join([*summary, f"load={os.getloadavg()[0]:.2f}"]))


if __name__ == "__main__":
    main()
