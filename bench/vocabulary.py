""" "Did you mean"'s vocabulary (#15): what a process pays to have it, counted in each process (before)
against mapped from the file the host's keyword writer keeps (search/vocabulary.py, now).

    .venv/bin/python bench/vocabulary.py --store STORE.db --out DIR [--before] [--queries 200]

STORE.db is a Papertrend SQLite store (bench/latency.py's var/bench/…/bench.db, bench/scale.py's
1M sqlite.db); it is opened read-only (immutable), so a store another session uses is safe. Each step
runs in a fresh process and reports CPU and wall seconds (wall means little on a loaded machine: the
load is printed beside it) and, from /proc/self/smaps_rollup, the growth of Anonymous memory (what no
other process can share) and of Private_Clean + Private_Dirty (adds file pages only this process has
mapped so far; the page cache shares them with every process that maps the file):

- build: what the keyword writer spends on the file: every title and abstract written to a tantivy
  index's `words` field (tantivy's threads count them), then the file written from its term
  dictionary (DIR/vocabulary.bin, `dict_cpu_s` of it), with the file's size and the builder's peak
  RSS;
- open: a process mapping the file and answering `--queries` title openings, as typed and with a
  letter dropped (bench/spelling.py's queries): time to ready, memory, "did you mean" p50/p95;
- before (`--before`): the same process counting the store itself into a dict, as each web process
  did until #15, answering the same queries; their suggestions must equal the file's.

It ends with one line: `papers=… words=… candidates=… file_mb=… build_cpu_s=… dict_cpu_s=…
open_ms=… open_anon_mb=… suggest_p50_ms=… before_cpu_s=… before_anon_mb=… same=… load=…`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

CHILD = r"""
import json, os, resource, statistics, sys, time
from collections import Counter
import sqlalchemy as sa

def mem():
    fields = dict(line.split(":", 1) for line in open("/proc/self/smaps_rollup") if ":" in line)
    kb = lambda *names: sum(int(fields[f].split()[0]) for f in names)
    return {"anon": kb("Anonymous") / 1024, "private": kb("Private_Clean", "Private_Dirty") / 1024}

step, store, out, nq = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
engine = sa.create_engine(f"sqlite:///file:{store}?mode=ro&immutable=1&uri=true")
from papertrend.search import suggest, vocabulary as V
path = os.path.join(out, V.FILE)
m0, c0, t0 = mem(), time.process_time(), time.perf_counter()
result = {}
if step == "build":
    import tempfile, tantivy
    from papertrend.search import tantivy_index as T
    index = tantivy.Index(T.schema(), path=tempfile.mkdtemp(dir=out))
    index.register_tokenizer(T.TOKENIZER, T.analyzer())
    index.register_tokenizer(T.WORDS_TOKENIZER, T.words_analyzer())
    writer = index.writer(heap_size=T.WRITER_HEAP, num_threads=T.WRITER_THREADS)
    with engine.connect() as conn:
        stmt = sa.text("SELECT pk, title, abstract FROM papers")
        rows = conn.execution_options(yield_per=5000).execute(stmt)
        for pk, title, abstract in rows:
            writer.add_document(tantivy.Document(pk=pk, **{T.WORDS: [title or "", abstract or ""]}))
    writer.commit()
    writer.wait_merging_threads()
    index.reload()
    c1 = time.process_time()
    data = V.of_index(index.searcher(), T.WORDS)
    V.VocabularyFile(__import__("pathlib").Path(path)).write(data)
    built = V.Vocabulary(data)
    result = {"papers": built.papers, "words": len(built), "file_mb": len(data) / 2**20,
              "candidates": len(built.candidates()), "dict_cpu_s": time.process_time() - c1}
elif step == "open":
    vocab = V.VocabularyFile(__import__("pathlib").Path(path)).open()
    assert vocab is not None
elif step == "before":
    # Until #15: every paper's title and abstract counted into a dict, words grouped by (letter, length).
    df = Counter()
    with engine.connect() as conn:
        rows = conn.execution_options(yield_per=2000).execute(sa.text("SELECT title, abstract FROM papers"))
        for title, abstract in rows:
            df.update(V.words_of(title, abstract))
    by_initial = {}
    for word in df:
        if len(word) >= suggest.MIN_LENGTH - 1:
            by_initial.setdefault((word[0], len(word)), []).append(word)

    class InMemory:
        def count(self, word): return df.get(word, 0)
        def counts(self, words): return [df.get(w, 0) for w in words]
        def group(self, initial, length): return by_initial.get((initial, length), [])
    vocab = InMemory()
ready_cpu, ready = time.process_time() - c0, time.perf_counter() - t0
m1 = mem()
result.update({"cpu_s": ready_cpu, "wall_s": ready, "anon_mb": m1["anon"] - m0["anon"],
               "private_mb": m1["private"] - m0["private"],
               "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
if step in ("open", "before"):
    with engine.connect() as conn:
        stmt = sa.text("SELECT title FROM papers WHERE pk % 373 = 0 LIMIT :n")
        titles = [t for (t,) in conn.execute(stmt, {"n": nq})]
    openings = [" ".join(str(t).split()[:4]) for t in titles]
    queries = openings + [q[:3] + q[4:] if len(q) > 5 else q for q in openings]
    ms, found = [], []
    for q in queries:
        t = time.perf_counter()
        found.append(suggest.suggestion(q, vocab))
        ms.append((time.perf_counter() - t) * 1000)
    m2 = mem()
    result.update({"p50_ms": statistics.median(ms), "p95_ms": statistics.quantiles(ms, n=100)[94],
                   "suggested": sum(1 for f in found if f), "found": found,
                   "anon_after_queries_mb": m2["anon"] - m0["anon"],
                   "private_after_queries_mb": m2["private"] - m0["private"]})
print(json.dumps(result))
"""


def run(step: str, store: Path, out: Path, queries: int) -> dict[str, Any]:
    """One step in a fresh process."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, step, str(store), str(out), str(queries)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{step} failed:\n{done.stderr[-4000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--store", type=Path, required=True, help="a Papertrend SQLite store (read only)")
    parser.add_argument("--out", type=Path, required=True, help="where the vocabulary file is written")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--before", action="store_true", help="also count the store in a process, as before #15"
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, dict[str, Any], str]] = []
    for step in ("build", "open", *(["before"] if args.before else [])):
        got = run(step, args.store.resolve(), args.out, args.queries)
        rows.append((step, got, load()))
        print(
            f"{step:7s} cpu {got['cpu_s']:7.2f} s  wall {got['wall_s']:7.2f} s (load {rows[-1][2]})  "
            f"anon +{got['anon_mb']:6.1f} MB  private +{got['private_mb']:6.1f} MB  "
            f"peak RSS {got['peak_rss_mb']:6.0f} MB"
            + (
                f"  did you mean p50 {got['p50_ms']:.2f} ms p95 {got['p95_ms']:.2f} ms"
                f" ({got['suggested']} of {len(got['found'])} queries corrected;"
                f" after them anon +{got['anon_after_queries_mb']:.1f} MB,"
                f" private +{got['private_after_queries_mb']:.1f} MB)"
                if "p50_ms" in got
                else ""
            ),
            flush=True,
        )
    by = {step: got for step, got, _ in rows}
    build, opened = by["build"], by["open"]
    before = by.get("before")
    same = "n/a" if before is None else str(before["found"] == opened["found"]).lower()
    print(
        f"papers={build['papers']} words={build['words']} candidates={build['candidates']} "
        f"file_mb={build['file_mb']:.1f} build_cpu_s={build['cpu_s']:.1f} "
        f"build_peak_rss_mb={build['peak_rss_mb']:.0f} "
        f"dict_cpu_s={build['dict_cpu_s']:.2f} open_ms={opened['wall_s'] * 1000:.1f} "
        f"open_anon_mb={opened['anon_after_queries_mb']:.1f} "
        f"open_private_mb={opened['private_after_queries_mb']:.1f} "
        f"suggest_p50_ms={opened['p50_ms']:.2f} suggest_p95_ms={opened['p95_ms']:.2f} "
        + (
            f"before_cpu_s={before['cpu_s']:.1f} before_anon_mb={before['anon_after_queries_mb']:.1f} "
            f"before_p50_ms={before['p50_ms']:.2f} "
            if before
            else ""
        )
        + f"same={same} load={load()}"
    )


if __name__ == "__main__":
    main()
