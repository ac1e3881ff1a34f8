"""Fusion that fits the query (#14): short technical-term queries next to SciFact's claims.

    .venv/bin/python bench/fusion.py [--data DIR] [--model NAME] [--queries 400]

People type a few technical terms as often as sentences. This builds a short-term query set from the
real SciFact corpus: for a fixed sample of abstracts, the three rarest content words of the title
(held by at least 2 abstracts, in title order) form the query and that abstract is the one relevant
answer (known-item search). Half the set (by a hash of the abstract id) is for tuning, the other half
is held out and never tuned on. Then it reports, on SciFact test and on the held-out terms, nDCG@10
and MRR@10 of keyword, semantic, hybrid as before #14, hybrid with the product's fusion, and hybrid
with weights chosen per query shape (a list of terms vs a sentence) on the tuning data only (SciFact
train and the tuning half); SciFact train is printed too, to choose changes on. The product's fusion
gives each keyword hit its exact cosine (`Searcher.completed`); the tuned row fuses those same lists.

`--store DIR --database-url URL` copies a store this bench built (and embedded) into a throwaway
PostgreSQL database on that server, so PostgreSQL is measured without embedding the corpus again.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import fusion_variants
from beir import (
    Beir,
    BeirStore,
    CachingEmbedder,
    build_store,
    load_beir,
    ndcg_at,
    scratch_database,
    synthetic_id,
)
from benchdata import SCIFACT, add_data_option, data_dir
from papertrend.db import create_engine, reading
from papertrend.dbcopy import copy_database
from papertrend.migrate import upgrade
from papertrend.search import hybrid, keyword
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.query import STOPWORDS, query_shape
from papertrend.search.service import DEFAULT_TUNING, Searcher
from papertrend.types import Hit
from quality import DEPTH

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9-]+")
# Per query: keyword hits, semantic hits, and the semantic hits completed with every keyword hit.
Lists = dict[str, tuple[list[Hit], list[Hit], list[Hit]]]


def _held_out(doc_id: str) -> bool:
    return hashlib.sha256(doc_id.encode()).digest()[0] % 2 == 1


def term_queries(
    beir: Beir, n: int, pick: str = "rarest"
) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Short technical-term queries built from titles, each with its source abstract as the answer:
    the title's three rarest content words, or its first three ("first", as people type a title)."""
    df: Counter[str] = Counter()
    for _id, title, text in beir.corpus:
        df.update({w.lower() for w in _WORD.findall(f"{title} {text}")})
    docs = sorted(beir.corpus, key=lambda d: hashlib.sha256(d[0].encode()).hexdigest())
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    for doc_id, title, _text in docs:
        words = [w for w in dict.fromkeys(_WORD.findall(title)) if w.lower() not in STOPWORDS]
        held = [w for w in words if df[w.lower()] >= 2]
        rare = held[:3] if pick == "first" else sorted(held, key=lambda w: df[w.lower()])[:3]
        if len(rare) < 2:
            continue
        qid = f"t{doc_id}"
        queries[qid] = " ".join(w for w in words if w in rare)
        qrels[qid] = {doc_id: 1}
        if len(queries) >= n:
            break
    return queries, qrels


def mrr_at(ranked: list[str], relevant: dict[str, int], k: int = 10) -> float:
    return next((1 / (i + 1) for i, d in enumerate(ranked[:k]) if relevant.get(d, 0) > 0), 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--pick", choices=["rarest", "first"], default="rarest", help="which title words")
    parser.add_argument(
        "--database-url", default=None, help="run on a throwaway database on this PostgreSQL server"
    )
    parser.add_argument(
        "--store", type=Path, default=None, help="reuse a store this bench (or floor.py) built and embedded"
    )
    parser.add_argument(
        "--variants", action="store_true", help="also the fusion variants tried and not kept (#14)"
    )
    args = parser.parse_args()
    beir = load_beir(data_dir(args.data, SCIFACT) / SCIFACT)
    terms, term_qrels = term_queries(beir, args.queries, args.pick)
    embedder = CachingEmbedder(get_embedder(args.model))
    to_beir = {synthetic_id(i): doc_id for i, (doc_id, _, _) in enumerate(beir.corpus)}
    if args.database_url and args.store:
        with scratch_database(args.database_url) as url:
            target = create_engine(url)
            upgrade(target)
            source = create_engine(f"sqlite:///{args.store / 'beir.db'}")
            assert copy_database(source=source, target=target).ok, "copy did not verify"
            source.dispose()
            run(args, beir, terms, term_qrels, embedder, BeirStore(target, args.store, to_beir))
        return
    if args.database_url:
        with scratch_database(args.database_url) as url:
            run(args, beir, terms, term_qrels, embedder, build_store(beir, database_url=url))
        return
    if args.store:
        store = BeirStore(create_engine(f"sqlite:///{args.store / 'beir.db'}"), args.store, to_beir)
    else:
        store = build_store(beir)
        print(f"store: {store.data_dir} (reuse it with --store)", flush=True)
    run(args, beir, terms, term_qrels, embedder, store)


def run(
    args: argparse.Namespace,
    beir: Beir,
    terms: dict[str, str],
    term_qrels: dict[str, dict[str, int]],
    embedder: CachingEmbedder,
    store: BeirStore,
) -> None:
    """Embed what the store lacks, run every query set, tune on the tuning data, report held-out."""
    t0 = time.perf_counter()
    embed_missing(engine=store.engine, embedder=embedder)
    print(f"embedded in {time.perf_counter() - t0:.0f}s", flush=True)
    searcher = Searcher(engine=store.engine, embedder=embedder, index_dir=store.data_dir / "index")
    texts = {**beir.queries, **terms}
    sets = {
        "scifact train": (list(beir.qrels["train"]), beir.qrels["train"]),
        "scifact test": (list(beir.qrels["test"]), beir.qrels["test"]),
        "terms tuning": ([q for q in terms if not _held_out(q[1:])], term_qrels),
        "terms held-out": ([q for q in terms if _held_out(q[1:])], term_qrels),
    }
    lists: dict[str, Lists] = {}
    with reading(store.engine) as conn:
        for name, (qids, _qrels) in sets.items():
            lists[name] = {}
            for q in qids:
                if q not in texts:
                    continue
                kw = keyword.search(conn=conn, query=texts[q], limit=DEPTH)
                vector = searcher.embed_query(texts[q])
                sem = searcher.nearest(conn=conn, vector=vector, limit=DEPTH)
                full = searcher.completed(conn=conn, vector=vector, by_meaning=sem, by_words=kw)
                lists[name][q] = (kw, sem, full)

    def before(kw: list[Hit], sem: list[Hit]) -> list[Hit]:
        return hybrid.fuse([kw, sem], fusion="convex", weights=[0.55, 0.45])

    def fuse(kw: list[Hit], full: list[Hit], w_sem: float) -> list[Hit]:
        return hybrid.fuse(
            [kw, full],
            fusion="convex",
            weights=[1 - w_sem, w_sem],
            norms=[DEFAULT_TUNING.keyword_norm, "minmax"],
        )

    def evaluate(name: str, rank: dict[str, list[Hit]]) -> tuple[float, float]:
        qrels = sets[name][1]
        docs = {q: [store.to_beir[h.paper_id] for h in hits] for q, hits in rank.items()}
        nd = statistics.fmean(ndcg_at(d, qrels[q], 10) for q, d in docs.items())
        mrr = statistics.fmean(mrr_at(d, qrels[q]) for q, d in docs.items())
        return nd, mrr

    grid = [0.0, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8]
    chosen: dict[str, float] = {}
    for kind in ("terms", "sentence"):
        tuning = [
            (name, q, kw, full)
            for name in ("scifact train", "terms tuning")
            for q, (kw, _sem, full) in lists[name].items()
            if query_shape(texts[q]) == kind
        ]

        def train_score(w: float, tuning: list[tuple[str, str, list[Hit], list[Hit]]] = tuning) -> float:
            return statistics.fmean(
                ndcg_at([store.to_beir[h.paper_id] for h in fuse(kw, full, w)], sets[name][1][q], 10)
                for name, q, kw, full in tuning
            )

        chosen[kind] = max(grid, key=train_score) if tuning else DEFAULT_TUNING.semantic_weight
        print(f"{kind}: {len(tuning)} tuning queries, semantic weight {chosen[kind]}", flush=True)
    # Train is printed too, so a change to a part is judged on train before test is read (#14).
    for name in ("scifact train", "scifact test", "terms held-out"):
        rows = {
            "keyword": {q: kw for q, (kw, _sem, _full) in lists[name].items()},
            "semantic": {q: sem for q, (_kw, sem, _full) in lists[name].items()},
            "hybrid (before #14)": {q: before(kw, sem) for q, (kw, sem, _full) in lists[name].items()},
            "hybrid (tuned here)": {
                q: fuse(kw, full, chosen[query_shape(texts[q])])
                for q, (kw, _sem, full) in lists[name].items()
            },
            "hybrid (product)": {
                q: fuse(kw, full, DEFAULT_TUNING.weights_for(texts[q])[1])
                for q, (kw, _sem, full) in lists[name].items()
            },
        }
        print(f"\n{name} ({len(lists[name])} queries)   nDCG@10   MRR@10")
        for label, rank in rows.items():
            nd, mrr = evaluate(name, rank)
            print(f"  {label:<20} {nd:.4f}   {mrr:.4f}", flush=True)
    if args.variants:
        _variants(
            searcher, store, texts, {n: (lists[n], sets[n][1]) for n in ("scifact train", "scifact test")}
        )
    store.engine.dispose()


def _variants(
    searcher: Searcher,
    store: BeirStore,
    texts: dict[str, str],
    splits: dict[str, tuple[Lists, dict[str, dict[str, int]]]],
) -> None:
    """nDCG@10 on train and test of each fusion variant tried for #14 (bench/fusion_variants.py)."""

    def ndcg(rank: dict[str, list[Hit]], qrels: dict[str, dict[str, int]]) -> float:
        return statistics.fmean(
            ndcg_at([store.to_beir[h.paper_id] for h in hits], qrels[q], 10) for q, hits in rank.items()
        )

    def cell(name: str, variant: Callable[[str, list[Hit], list[Hit]], list[Hit]]) -> str:
        lists, qrels = splits[name]
        rank = {
            q: (kw if query_shape(texts[q]) == "terms" else variant(q, kw, full))
            for q, (kw, _sem, full) in lists.items()
        }
        return f"{ndcg(rank, qrels):.4f}"

    rows: dict[str, Callable[[str, list[Hit], list[Hit]], list[Hit]]] = {
        "product": lambda _q, kw, full: fusion_variants.product(kw, full)
    }
    for label, v in fusion_variants.VARIANTS.items():
        rows[label] = lambda _q, kw, full, v=v: v(kw, full)
    with reading(store.engine) as conn:
        for docs, alpha in ((1, 0.25), (1, 0.5), (3, 0.5), (5, 0.25), (10, 0.25)):
            fb = fusion_variants.Feedback(searcher=searcher, conn=conn, docs=docs, alpha=alpha)
            rows[f"Rocchio, {docs} docs, alpha {alpha}"] = lambda q, kw, full, fb=fb: fb.rank(
                kw, full, searcher.embed_query(texts[q])
            )
        print("\nfusion variants (#14)             train    test")
        for label, variant in rows.items():
            print(
                f"  {label:<32} {cell('scifact train', variant)}   {cell('scifact test', variant)}",
                flush=True,
            )


if __name__ == "__main__":
    main()
