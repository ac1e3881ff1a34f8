"""Search quality on a BEIR data set (issues #3, #6): nDCG@10 and Recall@100 for keyword, semantic
and hybrid search, all in one run on freshly built stores, plus embedding speed.

    .venv/bin/python bench/quality.py [--data DIR | --dataset BEIR_DIR] [--model NAME]
        [--database-url postgresql+psycopg://USER@HOST:PORT/DB]

With `--database-url` (a PostgreSQL server where that user may create databases) the same corpus is
also stored in a throwaway database there, dropped at the end, and the two databases are printed
side by side. The corpus is embedded once and both stores get the same vectors, so any difference
is the databases' own.

Fusion is tuned on the train split (grid below) and reported on test next to plain reciprocal rank
fusion, so the number quoted for the product's default is never one it was fitted on. Convex fusions
fuse the keyword list with the semantic list completed by every keyword hit's exact cosine, as the
product does (`Searcher.completed`, #14).

`--store DIR` reuses a SQLite store built and embedded by this bench or bench/fusion.py.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import (
    Beir,
    BeirStore,
    CachingEmbedder,
    build_store,
    load_beir,
    ndcg_at,
    recall_at,
    scratch_database,
    synthetic_id,
)
from benchdata import SCIFACT, add_data_option, data_dir
from papertrend.db import create_engine, reading
from papertrend.search import hybrid, keyword
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, Embedder, get_embedder
from papertrend.search.service import DEFAULT_TUNING, Searcher, Tuning
from papertrend.types import Hit

DEPTH = 100
GRID = [
    *(
        Tuning(fusion="rrf", rrf_k=k, keyword_weight=1.0, semantic_weight=w)
        for k, w in itertools.product((5, 10, 20, 40, 60, 100), (0.5, 0.75, 1.0, 1.25, 1.5, 2.0))
    ),
    *(
        Tuning(fusion="convex", keyword_weight=1 - a, semantic_weight=a, keyword_norm=norm)
        for a, norm in itertools.product((0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8), ("minmax", "max"))
    ),
]
# Per query: keyword top 100, semantic top 100, their latencies in seconds, and the semantic list
# completed with every keyword hit at its exact cosine.
Lists = dict[str, tuple[list[Hit], list[Hit], float, float, list[Hit]]]


BEFORE = Tuning(fusion="convex", keyword_weight=0.55, semantic_weight=0.45)


def run_lists(store: BeirStore, searcher: Searcher, beir: Beir, qids: list[str]) -> Lists:
    """Per query: keyword top 100, semantic top 100, their latencies, the completed semantic list."""
    out = {}
    with reading(store.engine) as conn:
        for qid in qids:
            text = beir.queries[qid]
            t0 = time.perf_counter()
            kw = keyword.search(conn=conn, query=text, limit=DEPTH)
            t1 = time.perf_counter()
            vector = searcher.embed_query(text)
            sem = searcher.nearest(conn=conn, vector=vector, limit=DEPTH)
            t2 = time.perf_counter()
            full = searcher.completed(conn=conn, vector=vector, by_meaning=sem, by_words=kw)
            out[qid] = (kw, sem, t1 - t0, t2 - t1, full)
    return out


def score(store: BeirStore, beir: Beir, split: str, ranked: dict[str, list[Hit]]) -> tuple[float, float]:
    qrels = beir.qrels[split]
    nd, rc = [], []
    for qid, hits in ranked.items():
        docs = [store.to_beir[h.paper_id] for h in hits]
        nd.append(ndcg_at(docs, qrels[qid], 10))
        rc.append(recall_at(docs, qrels[qid], 100))
    return statistics.fmean(nd), statistics.fmean(rc)


def fused(lists: Lists, t: Tuning, *, complete: bool = True) -> dict[str, list[Hit]]:
    return {
        qid: hybrid.fuse(
            [kw, full if complete and t.fusion == "convex" else sem],
            fusion=t.fusion,
            weights=t.weights_for(beir_text[qid])
            if qid in beir_text
            else [t.keyword_weight, t.semantic_weight],
            rrf_k=t.rrf_k,
            norms=[t.keyword_norm, "minmax"],
        )
        for qid, (kw, sem, _, _, full) in lists.items()
    }


# Query texts by id, so fusions weigh each query by its shape as the product does.
beir_text: dict[str, str] = {}


def describe(t: Tuning) -> str:
    if t.fusion == "rrf":
        return f"rrf k={t.rrf_k:g} w_kw={t.keyword_weight:g} w_sem={t.semantic_weight:g}"
    return f"convex {t.keyword_norm} w_kw={t.keyword_weight:.2f} w_sem={t.semantic_weight:.2f}"


@dataclass
class Run:
    """One database's store and its result lists on both splits."""

    label: str
    store: BeirStore
    train: Lists
    test: Lists


def run_on(
    label: str, url: str | None, beir: Beir, embedder: Embedder, model: str, reuse: Path | None = None
) -> Run:
    t0 = time.perf_counter()
    if reuse is not None:
        to_beir = {synthetic_id(i): doc_id for i, (doc_id, _, _) in enumerate(beir.corpus)}
        store = BeirStore(create_engine(f"sqlite:///{reuse / 'beir.db'}"), reuse, to_beir)
    else:
        store = build_store(beir, database_url=url)
    ingest_s = time.perf_counter() - t0
    report = embed_missing(engine=store.engine, embedder=embedder)
    searcher = Searcher(engine=store.engine, embedder=embedder, index_dir=store.data_dir / "index")
    print(
        f"[{label}] corpus {len(beir.corpus):,} docs · ingest {ingest_s:.1f}s · embed {model}: "
        f"{report.embedded:,} docs in {report.seconds:.1f}s = {report.docs_per_second:,.1f} docs/s",
        flush=True,
    )
    train_ids = [q for q in beir.qrels["train"] if q in beir.queries]
    test_ids = [q for q in beir.qrels["test"] if q in beir.queries]
    return Run(
        label, store, run_lists(store, searcher, beir, train_ids), run_lists(store, searcher, beir, test_ids)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument(
        "--dataset", type=Path, default=None, help="a BEIR folder (default: scifact_beir in the data folder)"
    )
    parser.add_argument("--model", default=os.environ.get("PAPERTREND_EMBEDDING_MODEL", DEFAULT_MODEL))
    parser.add_argument(
        "--database-url", default=None, help="A PostgreSQL server to compare with SQLite (see above)."
    )
    parser.add_argument("--store", type=Path, default=None, help="reuse this SQLite store (see above)")
    ns = parser.parse_args()

    dataset: Path = ns.dataset or data_dir(ns.data, SCIFACT) / SCIFACT
    beir = load_beir(dataset)
    beir_text.update(beir.queries)
    embedder = CachingEmbedder(get_embedder(ns.model))
    runs = [run_on("sqlite", None, beir, embedder, ns.model, ns.store)]
    if ns.database_url:
        with scratch_database(ns.database_url) as url:
            runs.append(run_on("postgresql", url, beir, embedder, ns.model))
            runs[-1].store.engine.dispose()

    base = runs[0]
    tuned = max(GRID, key=lambda t: score(base.store, beir, "train", fused(base.train, t))[0])
    modes: list[tuple[str, Callable[[Run], dict[str, list[Hit]]]]] = [
        ("keyword (BM25)", lambda r: {q: kw for q, (kw, _, _, _, _) in r.test.items()}),
        (f"semantic ({ns.model})", lambda r: {q: sem for q, (_, sem, _, _, _) in r.test.items()}),
        ("hybrid: plain RRF k=60", lambda r: fused(r.test, Tuning(fusion="rrf", rrf_k=60))),
        (
            "hybrid: before #14 (convex minmax 0.55/0.45, no exact cosines)",
            lambda r: fused(r.test, BEFORE, complete=False),
        ),
        (f"hybrid: product default ({describe(DEFAULT_TUNING)})", lambda r: fused(r.test, DEFAULT_TUNING)),
        (f"hybrid: best on sqlite train ({describe(tuned)})", lambda r: fused(r.test, tuned)),
    ]
    print(f"\nBEIR {dataset.name} — test split, {len(base.test)} queries")
    head = "".join(f" {r.label + ' nDCG@10':>28} {'R@100':>7}" for r in runs)
    print(f"{'mode':<62}{head}")
    for label, lists in modes:
        cells = ""
        for r in runs:
            nd, rc = score(r.store, beir, "test", lists(r))
            cells += f" {nd:>28.4f} {rc:>7.4f}"
        print(f"{label:<62}{cells}")
    print()
    for r in runs:
        kw_ms = statistics.median(v[2] for v in r.test.values()) * 1000
        sem_ms = statistics.median(v[3] for v in r.test.values()) * 1000
        print(
            f"[{r.label}] median per query: keyword {kw_ms:.1f} ms, semantic (with embedding) {sem_ms:.1f} ms"
        )
    train_nd = score(base.store, beir, "train", fused(base.train, tuned))[0]
    print(f"train-split nDCG@10 of the chosen fusion: {train_nd:.4f}")


if __name__ == "__main__":
    main()
