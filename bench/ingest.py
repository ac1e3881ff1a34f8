"""Ingest benchmark (issue #2): papers/s and peak RSS of `papertrend ingest` into a fresh SQLite
database, and of ingesting the same file again. Each run is a separate process, so peak RSS is that
run's own. Prints a table; exits 0.

    .venv/bin/python bench/ingest.py [--data DIR]   (default ../shared/data; bench/benchdata.py)
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import HF_DAYS, LISTING, add_data_option, data_dir

ROOT = Path(__file__).resolve().parents[1]
_SUMMARY = re.compile(r"(\d+) added, (\d+) updated, (\d+) unchanged, (\d+) rejected")


def run(args: list[str], db: Path) -> tuple[float, float, tuple[int, ...]]:
    """Run one CLI ingest in a child process; return seconds, the child's peak RSS in MB, and counts."""
    env = {**os.environ, "PAPERTREND_DATABASE_URL": f"sqlite:///{db}", "PAPERTREND_ENV": "test"}
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
    return seconds, usage.ru_maxrss / 1024, tuple(int(x) for x in m.groups())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    ns = parser.parse_args()
    ns.data = data_dir(ns.data, LISTING, HF_DAYS)
    cases = [
        ("arXiv listing (74,728)", ["ingest", "jsonl", str(ns.data / LISTING)]),
        ("HF archive (9,881 paper-days)", ["ingest", "hf-daily", "--from-file", str(ns.data / HF_DAYS)]),
    ]
    rows = []
    for label, args in cases:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.db"
            for run_name in ("fresh", "again"):
                seconds, rss, counts = run(args, db)
                records = sum(counts)
                rows.append((label, run_name, records, seconds, records / seconds, rss, counts))
    print(
        f"{'input':<30} {'run':<6} {'records':>8} {'seconds':>8} {'papers/s':>9} {'peak RSS MB':>12}"
        "  added/updated/unchanged/rejected"
    )
    for label, run_name, records, seconds, rate, rss, counts in rows:
        print(
            f"{label:<30} {run_name:<6} {records:>8,} {seconds:>8.2f} {rate:>9,.0f} {rss:>12.0f}"
            f"  {'/'.join(map(str, counts))}"
        )


if __name__ == "__main__":
    main()
