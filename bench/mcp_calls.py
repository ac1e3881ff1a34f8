"""MCP tool-call latency over stdio (issue #16): p50/p95 per tool, measured by the SDK's own client.

    .venv/bin/python bench/mcp_calls.py [--papers 5000] [--model minilm] [--calls 40]
                                  [--data ../shared/data] [--database-url URL] [--settle 30]

1. The store: the first `--papers` papers of the arXiv listing file under `--data`, embedded with
   `--model`, built once under var/bench/mcp-<papers>-<model>/ and reused (delete it to rebuild); or,
   with `--database-url`, an existing store (already embedded with `--model`).
2. The server: `papertrend mcp` in its own process, as an MCP client configured by a user starts it.
3. The calls: after one warm-up call of each tool (the model loads then) and `--settle` seconds (a
   large store's in-memory keyword index is built in the background meanwhile), `--calls` calls of
   each tool one after another, each with different arguments: hybrid searches for the opening words
   of stored titles (as people type them), with and without filters; get_paper and similar_papers on
   random stored ids, spelled in several ways; daily_papers on random listed days; trending over each
   window; author_papers for random stored authors. Latency is from the request written to the
   answer read, in the client, so it includes the stdio round trip and the SDK's validation.

The target (issue #16): p95 ≤ 50 ms at 80k papers, search included.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import sqlalchemy as sa
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))

from latency import ROOT, HeadSource, title_queries
from papertrend.db import create_engine, reading
from papertrend.ingest.pipeline import run_ingest
from papertrend.migrate import upgrade
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder

# Rows of the table are tools, but for this one, a second row of search_papers with filters.
FILTERED = "search_papers (since, by date)"
LISTING = "arxiv_metadata/arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz"


def build(*, data: Path, papers: int, model: str) -> str:
    """Create (once) a store of the first `papers` listed papers; return its database URL."""
    folder = ROOT / "var" / "bench" / f"mcp-{papers}-{model}"
    url = f"sqlite:///{folder / 'bench.db'}"
    if (folder / "ready").exists():
        return url
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "bench.db").unlink(missing_ok=True)
    engine = create_engine(url)
    upgrade(engine)
    t0 = time.perf_counter()
    report = run_ingest(engine=engine, source=HeadSource(path=data / LISTING, limit=papers))
    print(f"ingest: {report.summary()} ({time.perf_counter() - t0:.0f} s)", flush=True)
    t0 = time.perf_counter()
    embedded = embed_missing(engine=engine, embedder=get_embedder(model))
    print(f"embed: {embedded.summary()} ({time.perf_counter() - t0:.0f} s)", flush=True)
    engine.dispose()
    (folder / "ready").touch()
    return url


def workload(url: str, calls: int, seed: int = 5) -> dict[str, list[dict[str, Any]]]:
    """`calls` argument sets per tool, drawn from what the store holds (fixed seed, so runs compare)."""
    rng = random.Random(seed)
    engine = create_engine(url)
    with reading(engine) as conn:
        # Drawn here with the seeded generator: SQL's random() differed on every run, so two runs (before
        # and after a change) measured different papers and authors.
        pks = sorted(conn.execute(sa.text("SELECT pk FROM papers")).scalars())
        chosen = rng.sample(pks, min(calls, len(pks)))
        by_pk = dict(
            conn.execute(
                sa.text("SELECT pk, id FROM papers WHERE pk IN :pks").bindparams(
                    sa.bindparam("pks", expanding=True)
                ),
                {"pks": chosen},
            ).all()
        )
        ids = [str(by_pk[pk]) for pk in chosen]
        days = [
            str(d)
            for d in conn.execute(
                sa.text("SELECT DISTINCT listed_on FROM papers WHERE listed_on IS NOT NULL ORDER BY 1")
            ).scalars()
        ]
        firsts = dict(
            conn.execute(
                sa.text("SELECT pk, json_extract(authors, '$[0]') FROM papers WHERE pk IN :pks").bindparams(
                    sa.bindparam("pks", expanding=True)
                ),
                {"pks": rng.sample(pks, min(calls, len(pks)))},
            ).all()
        )
        authors = [str(a) for a in firsts.values() if a]
    engine.dispose()
    folder = Path(url.removeprefix("sqlite:///")).parent
    titles = title_queries(folder, calls)
    spellings = ["{}", "{}v1", "arXiv:{}", "https://arxiv.org/abs/{}"]
    since = min(days) if days else None
    return {
        "search_papers": [{"query": q} for q in titles],
        # A filter that keeps every paper (from the first listed day), newest first: the costliest case.
        FILTERED: [{"query": q, "since": since, "sort": "date"} for q in titles[: max(1, calls // 3)]],
        "get_paper": [{"paper_id": rng.choice(spellings).format(pid)} for pid in ids],
        "similar_papers": [{"paper_id": pid, "limit": 10} for pid in reversed(ids)],
        "daily_papers": [
            {"date": rng.choice(days), "sort": rng.choice(["trending", "upvotes"])} for _ in ids
        ],
        "trending": [{"window": w} for w in (["day", "week", "month"] * calls)[:calls]],
        "author_papers": [{"author": a} for a in authors],
    }


def tool(row: str) -> str:
    """The tool a row of the table calls."""
    return row.split(" ", 1)[0]


def percentile(values: list[float], q: float) -> float:
    return (
        statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]
    )


async def measure(
    url: str, model: str, work: dict[str, list[dict[str, Any]]], settle: float
) -> dict[str, list[float]]:
    """Milliseconds per call, per tool, through one `papertrend mcp` process."""
    env = {
        **os.environ,
        "PAPERTREND_DATABASE_URL": url,
        "PAPERTREND_EMBEDDING_MODEL": model,
        # Derived indexes (the vector index past PAPERTREND_ANN_THRESHOLD) live beside their store.
        "PAPERTREND_DATA_DIR": str(Path(url.removeprefix("sqlite:///")).parent / "data"),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "papertrend", "mcp"], env=env)
    out: dict[str, list[float]] = {name: [] for name in work}
    async with Client(params, read_timeout_seconds=120) as client:
        for name, calls in work.items():
            # The first search of a store past PAPERTREND_ANN_THRESHOLD vectors builds its HNSW index
            # (minutes at 75k on two cores; kept on disk for the next run).
            warm = await client.call_tool(tool(name), calls[0], read_timeout_seconds=1800)
            if warm.is_error:
                raise SystemExit(f"{name}({calls[0]}) failed: {warm.content}")
        # A server that has run a while has its keyword index synced (search/tantivy_index.py).
        await anyio.sleep(settle)
        for name, calls in work.items():
            for arguments in calls:
                t0 = time.perf_counter()
                result = await client.call_tool(tool(name), arguments)
                out[name].append((time.perf_counter() - t0) * 1000)
                if result.is_error:
                    raise SystemExit(f"{name}({arguments}) failed: {result.content}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, default=5000, help="Papers in the store built from --data.")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--calls", type=int, default=40, help="Calls per tool.")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument(
        "--settle", type=float, default=30.0, help="Seconds between the warm-up and the measured calls."
    )
    parser.add_argument("--database-url", default=None, help="An existing SQLite store to measure instead.")
    args = parser.parse_args()
    url = args.database_url or build(data=args.data, papers=args.papers, model=args.model)
    engine = create_engine(url)
    with reading(engine) as conn:
        count = int(conn.execute(sa.text("SELECT count(*) FROM papers")).scalar_one())
    engine.dispose()
    work = workload(url, args.calls)
    times = anyio.run(measure, url, args.model, work, args.settle)
    print(f"\n{count:,} papers, model {args.model}, {args.calls} calls per tool over stdio\n")
    print(f"{'tool':<32}{'calls':>6}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, values in times.items():
        p50, p95 = statistics.median(values), percentile(values, 95)
        print(f"{name:<32}{len(values):>6}{p50:>9.1f}{p95:>9.1f}{max(values):>9.1f}")
    every = [v for values in times.values() for v in values]
    search = times["search_papers"] + times[FILTERED]
    print(
        f"\nmcp_papers={count} mcp_p50_ms={statistics.median(every):.1f} "
        f"mcp_p95_ms={percentile(every, 95):.1f} mcp_search_p95_ms={percentile(search, 95):.1f}"
    )


if __name__ == "__main__":
    main()
