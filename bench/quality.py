"""Search quality on a BEIR data set (issue #3): nDCG@10 and Recall@100 for keyword, semantic and
hybrid search, all in one run on one freshly built store, plus embedding speed.

    .venv/bin/python bench/quality.py --dataset ../shared/data/scifact_beir [--model NAME]

Fusion is tuned on the train split (grid below) and reported on test next to plain reciprocal rank
fusion, so the number quoted for the product's default is never one it was fitted on.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import Beir, BeirStore, build_store, load_beir, ndcg_at, recall_at
from papertrend.db import reading
from papertrend.search import hybrid, keyword
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.service import DEFAULT_TUNING, Searcher, Tuning
from papertrend.search.types import Hit

DEPTH = 100
GRID = [
    *(
        Tuning(fusion="rrf", rrf_k=k, keyword_weight=1.0, semantic_weight=w)
        for k, w in itertools.product((5, 10, 20, 40, 60, 100), (0.5, 0.75, 1.0, 1.25, 1.5, 2.0))
    ),
    *(
        Tuning(fusion="convex", keyword_weight=1 - a, semantic_weight=a)
        for a in (0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8)
    ),
]


def run_lists(
    store: BeirStore, searcher: Searcher, beir: Beir, qids: list[str]
) -> dict[str, tuple[list[Hit], list[Hit], float, float]]:
    """Per query: keyword top 100, semantic top 100, and their latencies in seconds."""
    out = {}
    with reading(store.engine) as conn:
        for qid in qids:
            text = beir.queries[qid]
            t0 = time.perf_counter()
            kw = keyword.search(conn=conn, query=text, limit=DEPTH)
            t1 = time.perf_counter()
            sem = searcher.semantic(conn=conn, query=text, limit=DEPTH)
            t2 = time.perf_counter()
            out[qid] = (kw, sem, t1 - t0, t2 - t1)
    return out


def score(store: BeirStore, beir: Beir, split: str, ranked: dict[str, list[Hit]]) -> tuple[float, float]:
    qrels = beir.qrels[split]
    nd, rc = [], []
    for qid, hits in ranked.items():
        docs = [store.to_beir[h.paper_id] for h in hits]
        nd.append(ndcg_at(docs, qrels[qid], 10))
        rc.append(recall_at(docs, qrels[qid], 100))
    return statistics.fmean(nd), statistics.fmean(rc)


def fused(lists: dict[str, tuple[list[Hit], list[Hit], float, float]], t: Tuning) -> dict[str, list[Hit]]:
    return {
        qid: hybrid.fuse(
            [kw, sem], fusion=t.fusion, weights=[t.keyword_weight, t.semantic_weight], rrf_k=t.rrf_k
        )
        for qid, (kw, sem, _, _) in lists.items()
    }


def describe(t: Tuning) -> str:
    if t.fusion == "rrf":
        return f"rrf k={t.rrf_k:g} w_kw={t.keyword_weight:g} w_sem={t.semantic_weight:g}"
    return f"convex w_kw={t.keyword_weight:.2f} w_sem={t.semantic_weight:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--dataset", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/scifact_beir"
    )
    parser.add_argument("--model", default=os.environ.get("PAPERTREND_EMBEDDING_MODEL", DEFAULT_MODEL))
    parser.add_argument("--database-url", default=None, help="Default: a fresh SQLite file in a temp dir.")
    ns = parser.parse_args()

    beir = load_beir(ns.dataset)
    t0 = time.perf_counter()
    store = build_store(beir, database_url=ns.database_url)
    ingest_s = time.perf_counter() - t0
    embedder = get_embedder(ns.model)
    report = embed_missing(engine=store.engine, embedder=embedder)
    searcher = Searcher(engine=store.engine, embedder=embedder, index_dir=store.data_dir / "index")
    print(
        f"corpus {len(beir.corpus):,} docs · ingest {ingest_s:.1f}s · embed {ns.model}: "
        f"{report.embedded:,} docs in {report.seconds:.1f}s = {report.docs_per_second:,.1f} docs/s"
    )

    train_ids = [q for q in beir.qrels["train"] if q in beir.queries]
    test_ids = [q for q in beir.qrels["test"] if q in beir.queries]
    train = run_lists(store, searcher, beir, train_ids)
    test = run_lists(store, searcher, beir, test_ids)

    tuned = max(GRID, key=lambda t: score(store, beir, "train", fused(train, t))[0])
    rows = [
        ("keyword (BM25, FTS5)", {q: kw for q, (kw, _, _, _) in test.items()}),
        (f"semantic ({ns.model})", {q: sem for q, (_, sem, _, _) in test.items()}),
        ("hybrid: plain RRF k=60", fused(test, Tuning(fusion="rrf", rrf_k=60))),
        (f"hybrid: product default ({describe(DEFAULT_TUNING)})", fused(test, DEFAULT_TUNING)),
        (f"hybrid: best on train ({describe(tuned)})", fused(test, tuned)),
    ]
    print(f"\nBEIR {ns.dataset.name} — test split, {len(test_ids)} queries")
    print(f"{'mode':<70} {'nDCG@10':>8} {'R@100':>7}")
    for label, ranked in rows:
        nd, rc = score(store, beir, "test", ranked)
        print(f"{label:<70} {nd:>8.4f} {rc:>7.4f}")
    kw_ms = statistics.median(v[2] for v in test.values()) * 1000
    sem_ms = statistics.median(v[3] for v in test.values()) * 1000
    print(f"\nmedian per query: keyword {kw_ms:.1f} ms, semantic (incl. query embedding) {sem_ms:.1f} ms")
    print(
        f"train-split nDCG@10 of the chosen fusion: {score(store, beir, 'train', fused(train, tuned))[0]:.4f}"
    )


if __name__ == "__main__":
    main()
