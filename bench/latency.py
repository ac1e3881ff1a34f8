"""Hybrid search latency (issue #3): p50/p95/p99 per query, query embedding included, at several
corpus sizes, with vector-index build time, ANN recall@10 against exact search, and peak memory.

    .venv/bin/python bench/latency.py [--scales 10k,85k,1m] [--model NAME] [--queries 200]
        [--database-url postgresql+psycopg://USER@HOST:PORT/DB]
        [--query-sets scifact,titles]

- 10k: the first 10,000 papers of the arXiv listing file;
- 85k: the whole listing file (74,728) plus the Hugging Face archive (9,877 papers);
- 1m:  synthetic papers (words drawn from the real abstracts) with random unit vectors, since
       embedding a million abstracts on two cores would take days; it measures the index, not a model.
Stores are built once under var/bench/ and reused (delete the folder to rebuild). Embedding the 85k
corpus with the transformer model takes a while the first time; `papertrend embed` progress is shown.

With `--database-url` (a PostgreSQL server where that user may create databases) each scale is also
measured on PostgreSQL, side by side: the SQLite store is copied once with `papertrend db copy`'s
code into a database `papertrend_bench_<scale>_<model>` on that server, kept for later runs.

Keyword ranking comes from the tantivy index (search/tantivy_index.py), built under the store's
folder on first use (its sync time and size on disk in `kw build s`, `kw MB`). Two query sets:
SciFact's test claims, and title openings (as people type), where common words make keyword costly.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import resource
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import recommend_data
from beir import load_beir, synthetic_id
from benchdata import HF_DAYS, LISTING, SCIFACT, add_data_option, data_dir, data_file
from papertrend.db import create_engine, reading, transaction
from papertrend.dbcopy import copy_database
from papertrend.ingest.base import Cursor, Parsed, RawBatch
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.hf_daily import HfDailySource
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.migrate import upgrade
from papertrend.papers.models import PaperIn
from papertrend.search import keyword, vectors
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.service import Searcher
from papertrend.web.search_holder import VECTOR_RECHECK_SECONDS

ROOT = Path(__file__).resolve().parents[1]


class HeadSource(JsonlSource):
    """The first `limit` lines of a JSON-lines file."""

    def __init__(self, *, path: Path, limit: int) -> None:
        super().__init__(path=path)
        self.limit = limit

    def fetch(self, cursor: Cursor | None):  # type: ignore[no-untyped-def]
        seen = 0
        for raw in super().fetch(cursor):
            first, lines = raw.payload
            lines = lines[: self.limit - seen]
            seen += len(lines)
            yield RawBatch((first, lines), raw.origin, raw.cursor)
            if seen >= self.limit:
                return


class SyntheticSource:
    """`count` synthetic papers whose titles and abstracts are drawn from a real vocabulary."""

    name = "synthetic"
    forget_cursor_when_done = True

    def __init__(self, count: int, words: list[str], seed: int = 7) -> None:
        self.count, self.words, self.seed = count, words, seed

    def cursor_key(self) -> str:
        return "synthetic"

    def fetch(self, cursor: Cursor | None):  # type: ignore[no-untyped-def]
        for start in range(0, self.count, 5000):
            yield RawBatch((start, min(5000, self.count - start)), "synthetic", None)

    def parse(self, raw: RawBatch) -> Parsed:
        start, n = raw.payload
        rng = random.Random(self.seed + start)
        return Parsed(
            papers=[
                PaperIn(
                    id=synthetic_id(start + i),
                    title=" ".join(rng.choices(self.words, k=10)),
                    abstract=" ".join(rng.choices(self.words, k=150)),
                    source="synthetic",
                )
                for i in range(n)
            ]
        )


def build(scale: str, model: str, dim: int) -> Path:
    """Create (once) the store for `scale`; return its folder."""
    folder = ROOT / "var" / "bench" / f"{scale}-{model}"
    db = folder / "bench.db"
    if (folder / "ready").exists():
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    db.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{db}")
    upgrade(engine)
    t0 = time.perf_counter()
    if scale == "10k":
        run_ingest(engine=engine, source=HeadSource(path=data_file(LISTING), limit=10_000))
    elif scale == "85k":
        run_ingest(engine=engine, source=JsonlSource(path=data_file(LISTING)))
        run_ingest(engine=engine, source=HfDailySource(from_file=data_file(HF_DAYS)))
    else:
        words = " ".join(p.abstract for p in _sample_papers(2000)).split()
        run_ingest(engine=engine, source=SyntheticSource(1_000_000, words))
    print(f"[{scale}] ingest {time.perf_counter() - t0:.0f}s", flush=True)
    t0 = time.perf_counter()
    if scale == "1m":
        _random_vectors(engine, model, dim)
    else:
        if scale == "85k":
            cached = store_cached_vectors(engine, model)
            print(f"[{scale}] {cached:,} vectors from {recommend_data.CACHE}", flush=True)
        embedder = get_embedder(model)
        last = [0.0]

        def progress(done: int, total: int) -> None:
            if time.perf_counter() - last[0] > 30:
                last[0] = time.perf_counter()
                print(f"[{scale}] embedded {done:,}/{total:,}", flush=True)

        report = embed_missing(engine=engine, embedder=embedder, progress=progress)
        print(f"[{scale}] {report.summary()}", flush=True)
    print(f"[{scale}] vectors {time.perf_counter() - t0:.0f}s", flush=True)
    (folder / "ready").touch()
    return folder


def store_cached_vectors(engine: sa.Engine, model: str) -> int:
    """Store, by paper id, the vectors bench/recommend_data.py cached for the same papers (the listing
    file and the Hugging Face archive, `BENCH_RECOMMEND_CACHE`); how many. Embedding the 85k store
    with MiniLM takes 20+ minutes of both cores; its cached copy is read in seconds. Papers the cache
    lacks are embedded afterwards as usual."""
    corpus = recommend_data.load(data_file(LISTING).parents[1])
    # recommend_data.vectors' file name: the model and a digest of the corpus's ids.
    digest = hashlib.sha256("\n".join(corpus.ids).encode()).hexdigest()[:12]
    path = recommend_data.CACHE / f"{model}-{digest}.npy"
    if not path.exists():
        return 0
    matrix = np.load(path, mmap_mode="r")
    row = {pid: i for i, pid in enumerate(corpus.ids)}
    with transaction(engine) as conn:
        stored = vectors.pks_of(conn=conn, paper_ids=corpus.ids)
        pairs = sorted((pk, row[pid]) for pk, pid in stored.items())
        for start in range(0, len(pairs), 5000):
            chunk = pairs[start : start + 5000]
            vectors.store(
                conn=conn,
                model=model,
                paper_pks=[pk for pk, _ in chunk],
                vectors=np.asarray(matrix[[r for _, r in chunk]], dtype=np.float32),
                now=datetime.now(UTC),
            )
    return len(pairs)


def _sample_papers(n: int) -> list[PaperIn]:
    src = HeadSource(path=data_file(LISTING), limit=n)
    return [p for raw in src.fetch(None) for p in src.parse(raw).papers]


def _random_vectors(engine, model: str, dim: int) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(0)
    with reading(engine) as conn:
        total = vectors.count_missing(conn=conn, model=model)
    while True:
        with reading(engine) as conn:
            todo = vectors.missing(conn=conn, model=model, limit=20_000)
        if not todo:
            break
        m = rng.standard_normal((len(todo), dim)).astype(np.float32)
        m /= np.linalg.norm(m, axis=1, keepdims=True)
        with transaction(engine) as conn:
            vectors.store(
                conn=conn, model=model, paper_pks=[t[0] for t in todo], vectors=m, now=datetime.now(UTC)
            )
    print(f"random vectors for {total:,} papers", flush=True)


def postgres_copy(server_url: str, scale: str, model: str, folder: Path) -> str:
    """The URL of a PostgreSQL copy of the SQLite store in `folder`, made once and kept."""
    name = f"papertrend_bench_{scale}_{model}".lower()
    url = sa.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first()
        if exists is None:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    admin.dispose()
    source = create_engine(f"sqlite:///{folder / 'bench.db'}")
    upgrade(source)  # stores built by older revisions; the copy wants both at the same head
    target = create_engine(url)
    if exists is not None and _same_counts(source, target):
        upgrade(target)  # a complete copy from an earlier run: only new migrations to apply
        print(f"[{scale}] postgresql copy: reusing {name}", flush=True)
    else:
        t0 = time.perf_counter()
        report = copy_database(source=source, target=target)
        copied = sum(t.copied for t in report.tables)
        print(f"[{scale}] postgresql copy: {copied:,} rows in {time.perf_counter() - t0:.0f}s", flush=True)
        assert report.ok, "copy did not verify"
    source.dispose()
    target.dispose()
    return url


def title_queries(folder: Path, n: int) -> list[str]:
    """The first 3–6 words of `n` random stored titles (a fixed sample, so runs compare)."""
    rng = random.Random(11)
    engine = create_engine(f"sqlite:///{folder / 'bench.db'}")
    with reading(engine) as conn:
        top = int(conn.execute(sa.text("SELECT max(pk) FROM papers")).scalar_one())
        pks = rng.sample(range(1, top + 1), min(top, 3 * n))
        titles = (
            conn.execute(
                sa.text("SELECT title FROM papers WHERE pk IN :pks").bindparams(
                    sa.bindparam("pks", expanding=True)
                ),
                {"pks": pks},
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return [" ".join(t.split()[: rng.randint(3, 6)]) for t in titles][:n]


def _same_counts(source: sa.Engine, target: sa.Engine) -> bool:
    """Whether the target holds as many papers and vectors as the source (a finished copy)."""
    query = "SELECT (SELECT count(*) FROM papers), (SELECT count(*) FROM embeddings)"
    try:
        with source.connect() as a, target.connect() as b:
            return tuple(a.exec_driver_sql(query).one()) == tuple(b.exec_driver_sql(query).one())
    except sa.exc.SQLAlchemyError:
        return False


def expansion_sweep(
    searcher: Searcher, engine: sa.Engine, model: str, queries: list[str], expansions: list[int]
) -> list[tuple[int, float, float]]:
    """(expansion_search, recall@10 against exact search, CPU ms per 100-neighbour search) for each
    value, on the HNSW file's view (SQLite past the threshold): what choosing ann.EXPANSION_SEARCH
    for a model needs. The page asks for 100 neighbours; recall@10 is the same at k 10 and 100 from
    128 up (WordLlama, 80k)."""
    state = getattr(searcher.index, "_ann", None)
    if state is None:
        return []
    view = state.view.index
    with reading(engine) as conn:
        pks, matrix = vectors.load(conn=conn, model=model, dim=searcher.embedder.dim)
    exact = vectors.ExactIndex(pks, matrix)
    qv = searcher.embedder.embed(queries)
    truth = [{p for p, _ in exact.search(v, 10)} for v in qv]
    del matrix, exact
    rows = []
    before = view.expansion_search
    try:
        for ef in expansions:
            view.expansion_search = ef
            t0 = time.process_time()
            found = [view.search(v.astype(np.float32), 100) for v in qv]
            cpu = (time.process_time() - t0) / len(qv) * 1000
            got = sum(len(set(f.keys[:10].tolist()) & t) for f, t in zip(found, truth, strict=True))
            rows.append((ef, got / (10 * len(qv)), cpu))
    finally:
        view.expansion_search = before
    return rows


def measure(
    scale: str, url: str, folder: Path, model: str, queries: list[str], expansions: list[int] | None = None
) -> dict[str, Any]:
    engine = create_engine(url)
    words = keyword.open_index(engine=engine, data_dir=folder)
    searcher = Searcher(
        engine=engine,
        embedder=get_embedder(model),
        index_dir=folder / "index",
        recheck_seconds=VECTOR_RECHECK_SECONDS,  # as the web app searches
    )
    t0 = time.perf_counter()
    words.sync(engine=engine)
    kw_build_s = time.perf_counter() - t0
    kw_mb = sum(f.stat().st_size for f in words.path.iterdir() if f.is_file()) / 2**20
    with reading(engine) as conn:
        t0 = time.perf_counter()
        searcher.index.refresh(conn=conn)
        build_s = time.perf_counter() - t0
        n = len(searcher.index)
    # Warm, as a server that has been answering for a while: model loaded, the database's and the
    # graph's pages in memory (a cold PostgreSQL reads its HNSW index from disk for a few hundred
    # queries first).
    for q in queries[:100]:
        searcher.search(query=q, limit=10)
    times = []
    for q in queries:
        t0 = time.perf_counter()
        searcher.search(query=q, limit=10)
        times.append((time.perf_counter() - t0) * 1000)
    recall = float("nan")
    if searcher.index.kind != "exact":
        with reading(engine) as conn:
            pks, matrix = vectors.load(conn=conn, model=model, dim=searcher.embedder.dim)
            exact = vectors.ExactIndex(pks, matrix)
            qv = searcher.embedder.embed(queries[:100])
            got = sum(
                len(
                    {p for p, _ in searcher.index.search(conn=conn, query=v, k=10)}
                    & {p for p, _ in exact.search(v, 10)}
                )
                for v in qv
            )
            recall = got / (10 * len(qv))
            del matrix, exact
    sweep = expansion_sweep(searcher, engine, model, queries, expansions) if expansions else []
    qs = statistics.quantiles(times, n=100)
    return {
        "sweep": sweep,
        "papers": n,
        "index": searcher.index.kind,
        "build_s": build_s,
        "kw_build_s": kw_build_s,
        "kw_mb": kw_mb,
        "p50": statistics.median(times),
        "p95": qs[94],
        "p99": qs[98],
        "recall": recall,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--scales", default="10k,85k,1m")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument(
        "--query-sets",
        default="scifact,titles",
        help="scifact: SciFact's test claims (long sentences); titles: the first 3-6 words of random"
        " stored titles, as people type them (common words like 'model' make these the costly ones).",
    )
    parser.add_argument("--database-url", default=None, help="A PostgreSQL server to compare with SQLite.")
    parser.add_argument(
        "--expansions",
        default="",
        help="e.g. 256,384,512,768: recall@10 and CPU per search of the HNSW file at each expansion_search"
        " (SQLite, past the ANN threshold), to choose search/ann.py's EXPANSION_SEARCH for a model.",
    )
    ns = parser.parse_args()
    beir = load_beir(data_dir(ns.data, SCIFACT, LISTING, HF_DAYS) / SCIFACT)
    claims = [beir.queries[q] for q in sorted(beir.qrels["test"])][: ns.queries]
    dim = get_embedder(ns.model).dim
    rows = []
    for scale in ns.scales.split(","):
        folder = build(scale, ns.model, dim)
        urls = [("sqlite", f"sqlite:///{folder / 'bench.db'}")]
        if ns.database_url:
            urls.append(("postgresql", postgres_copy(ns.database_url, scale, ns.model, folder)))
        sets = {"scifact": claims, "titles": title_queries(folder, ns.queries)}
        for db, url in urls:
            for name in ns.query_sets.split(","):
                expansions = [int(x) for x in ns.expansions.split(",")] if ns.expansions else None
                r = measure(scale, url, folder, ns.model, sets[name], expansions)
                rows.append((scale, db, "tantivy", name, r))
    print(f"\nhybrid search, {ns.queries} queries per set, limit 10, model {ns.model}, query embedded")
    print(
        f"{'scale':<6} {'database':<11} {'keyword':<9} {'queries':<8} {'papers':>9} {'index':>6}"
        f" {'build s':>8} {'kw build s':>10} {'kw MB':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7}"
        f" {'ANN R@10':>9} {'peak RSS MB':>12}"
    )
    for scale, db, kw, name, r in rows:
        print(
            f"{scale:<6} {db:<11} {kw:<9} {name:<8} {int(r['papers']):>9,} {r['index']:>6}"
            f" {r['build_s']:>8.1f} {r['kw_build_s']:>10.1f} {r['kw_mb']:>6.0f} {r['p50']:>7.1f}"
            f" {r['p95']:>7.1f} {r['p99']:>7.1f} {r['recall']:>9.3f} {r['rss_mb']:>12.0f}"
        )
    for scale, db, _, name, r in rows:
        for ef, recall, cpu in r["sweep"]:
            print(
                f"{scale} {db} {name}: expansion_search {ef:4d}: recall@10 {recall:.3f},"
                f" {cpu:.2f} ms CPU a search"
            )
    if rows:
        r = rows[-1][4]
        print(f"p50_ms={r['p50']:.1f} p95_ms={r['p95']:.1f} recall={r['recall']:.3f} model={ns.model}")


if __name__ == "__main__":
    main()
