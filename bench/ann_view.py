"""Private memory and search latency of a process searching the SQLite side's HNSW file, loaded into
its own memory (before issue #15) against viewed through a shared memory map (now).

    .venv/bin/python bench/ann_view.py --n 200000 --dim 384 [--cache var/bench/ann-view]

Builds N random unit vectors into an f16 cosine usearch file once (cached; connectivity 8 and
expansion_add 16 so it builds in minutes on 2 cores: the graph is smaller than the project's 32/128 one,
which only makes the file, and so the saving, larger), then for each mode starts a fresh process that
opens it, runs 300 queries and reports, from /proc/self/smaps_rollup, Private_Clean + Private_Dirty
and Anonymous. The kernel counts a mapped file's page cache pages as Private_Clean while one process
alone maps them (they turn Shared_Clean as soon as a second process does), so Anonymous — memory no
other process can share — is what a viewed index costs each web process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CHILD = r"""
import json, sys, time
import numpy as np
from papertrend.search.ann import new_index

def mb(*names):
    fields = dict(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if ":" in line)
    return sum(int(fields[f].split()[0]) for f in names) / 1024

def private_mb():
    return mb("Private_Clean", "Private_Dirty")

path, dim, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
index = new_index(dim)
queries = np.random.default_rng(1).standard_normal((300, dim)).astype(np.float32)
before, anon_before = private_mb(), mb("Anonymous")
t0 = time.perf_counter()
index.view(path) if mode == "view" else index.load(path)
opened = time.perf_counter() - t0
times = []
for q in queries:
    t = time.perf_counter()
    index.search(q, 100)
    times.append((time.perf_counter() - t) * 1000)
print(json.dumps({"mode": mode, "private_mb": private_mb(), "private_growth_mb": private_mb() - before,
                  "anon_mb": mb("Anonymous"), "anon_growth_mb": mb("Anonymous") - anon_before,
                  "open_s": opened, "p50_ms": float(np.percentile(times, 50)),
                  "p95_ms": float(np.percentile(times, 95))}))
"""


def build(path: Path, n: int, dim: int) -> None:
    """Write N random unit vectors as a usearch file (once)."""
    from usearch.index import Index

    rng = np.random.default_rng(0)
    index = Index(ndim=dim, metric="cos", dtype="f16", connectivity=8, expansion_add=16)
    for start in range(0, n, 50_000):
        m = rng.standard_normal((min(50_000, n - start), dim)).astype(np.float32)
        index.add(np.arange(start, start + len(m), dtype=np.uint64), m, threads=2)
    index.save(str(path))


CACHE = Path(__file__).resolve().parents[1] / "var" / "bench" / "ann-view"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200_000)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--cache", type=Path, default=CACHE)
    args = parser.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"random-{args.n}-{args.dim}.usearch"
    if not path.exists():
        t0 = time.perf_counter()
        build(path, args.n, args.dim)
        print(f"built {path} in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    size_mb = path.stat().st_size / 2**20
    for mode in ("load", "view", "load", "view"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), str(args.dim), mode],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(out.stdout)
        print(
            f"n={args.n} dim={args.dim} file_mb={size_mb:.0f} "
            + " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items())
        )


if __name__ == "__main__":
    main()
