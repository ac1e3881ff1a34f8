"""Recommendations from a library (issue #13), side by side on real data; prints a table.

    .venv/bin/python bench/recommend.py [--data DIR] [--model wordllama|minilm] [--readers 60]
                                        [--subscribers 10000] [--cost-sample 500]
                                        [--cutoffs 0,1] [--skip library,topic,cost] [--tuning]
                                        [--vocabulary 100000:2]

1. Library → next papers. Readers simulated from the arXiv listing file: at each cutoff day, an
   author with at least 5 papers in the 120 days before and one in the 14 days after; their (up to
   50) latest earlier papers are the library, their papers of the next 14 days the relevant ones,
   every paper listed in those 14 days a candidate. Author names are hidden from every ranker;
   arxiv-sanity's recipe sees titles and abstracts, ours also the arXiv comment and categories
   (library/metadata.py). Recall@20 and nDCG@20 for: the library centroid (cosine);
   arxiv-sanity's recipe (TF-IDF 1–2-grams as arxiv-sanity-lite builds it + LinearSVC C=0.01,
   class_weight balanced, every other paper of the store as negatives); nearest saved paper; the
   per-reader logistic regression over the vectors; and ours (papertrend.library.recommend, auto).
2. Topic precision (bench/recommend_topics.py). Topics are Hugging Face `ai_keywords` carried by at
   least 3 papers of a week; that week's HF papers are the candidates and those carrying the keyword
   the relevant ones (a lower bound; keywords equal in word forms count alike). Precision@8 of the
   "For you" selection and off-topic slots filled, for today's digest (digest/compose.py WindowRanker
   + select, over a SQLite store of the same papers and vectors) and ours (recommend with the
   calibrated floor).
3. Cost. `--subscribers` readers with 50-paper libraries (timed on `--cost-sample` of them and scaled),
   and the "For you" page p95 with a 200-paper library over the last 30 days of the 80k store.
   Library readers use the fused model with TF-IDF rows; the cost part times the vector-only path.

Vectors come from bench/recommend_data.py's cache (embedded on first use).
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import zlib
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from papertrend.library import keywords, metadata
from papertrend.library import recommend as rec
from papertrend.library.foryou import KEYWORD_REFIT, KEYWORD_SAMPLE
from recommend_data import DATA, Corpus, load, vectors
from recommend_topics import topic_bench

CUTOFFS = [date(2025, 9, 1), date(2025, 11, 3), date(2026, 1, 12), date(2026, 3, 16), date(2026, 5, 11)]
HISTORY_DAYS, WINDOW_DAYS, LIBRARY_MAX, MIN_LIBRARY = 120, 14, 50, 5
K = 20
BACKGROUND = 2_000
ARXIV_SANITY_TERMS = 20_000  # its vectorizer's max_features (compute.py)


def recall_ndcg(ranked: Sequence[int], relevant: set[int], k: int = K) -> tuple[float, float]:
    top = list(ranked[:k])
    hits = [1.0 if r in relevant else 0.0 for r in top]
    dcg = sum(h / math.log2(i + 2) for i, h in enumerate(hits))
    ideal = sum(1 / math.log2(i + 2) for i in range(min(len(relevant), k)))
    return sum(hits) / len(relevant), dcg / ideal if ideal else 0.0


def tfidf_for(corpus: Corpus, rows: np.ndarray):  # type: ignore[no-untyped-def]
    """arxiv-sanity-lite's TF-IDF (compute.py: 1–2-grams, 20k terms seen in 5+ papers) over the
    store's title + abstract: its rows."""
    texts = [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in rows]
    return keywords.rows(keywords.fit(texts, max_features=ARXIV_SANITY_TERMS, min_df=5), texts)


def arxiv_sanity(x, positives: np.ndarray, candidates: np.ndarray) -> np.ndarray:  # type: ignore[no-untyped-def]
    """arxiv-sanity-lite's svm_rank: LinearSVC C=0.01 balanced, negatives = every other paper."""
    from sklearn.svm import LinearSVC

    y = np.zeros(x.shape[0])
    y[positives] = 1
    clf = LinearSVC(class_weight="balanced", max_iter=10000, tol=1e-6, C=0.01)
    clf.fit(x, y)
    return np.asarray(clf.decision_function(x[candidates]))


def meta_rows(corpus: Corpus, rows: Sequence[int] | np.ndarray):  # type: ignore[no-untyped-def]
    """The metadata rows (library.metadata: arXiv comment and categories) of these papers."""
    return metadata.rows([metadata.text(corpus.comments[r], corpus.categories[r]) for r in rows])


def held_out(author: str) -> bool:
    """Readers are split by author name: half tune the model's constants (SHRINK, VECTOR_WEIGHT, MIN_TRAIN,
    the vectorizer's min_df; never reported), the other half are the readers this bench reports."""
    return zlib.crc32(author.encode()) % 2 == 1


def library_bench(
    corpus: Corpus,
    vecs: np.ndarray,
    n_readers: int,
    rng: random.Random,
    *,
    tuning: bool = False,
    cutoffs: Sequence[date] = CUTOFFS,
    vocabulary: tuple[int, int] = (keywords.MAX_FEATURES, keywords.MIN_DF),
) -> dict[str, tuple[float, float]]:
    listed = np.asarray([bool(c) for c in corpus.categories])  # papers of the arXiv listing file
    scores: dict[str, list[tuple[float, float]]] = {}
    n_total = 0
    for cutoff in cutoffs:
        t = cutoff.toordinal()
        store = np.nonzero(listed & (corpus.days >= t - HISTORY_DAYS) & (corpus.days < t + WINDOW_DAYS))[0]
        window = store[corpus.days[store] >= t]
        by_author: dict[str, list[int]] = {}
        for r in store:
            for a in corpus.authors[r]:
                by_author.setdefault(a, []).append(int(r))
        eligible = []
        for a, rows in by_author.items():
            if held_out(a) == tuning:
                continue
            before = [r for r in rows if corpus.days[r] < t]
            after = [r for r in rows if corpus.days[r] >= t]
            if len(before) >= MIN_LIBRARY and after:
                eligible.append((a, before, after))
        eligible.sort()
        chosen = rng.sample(eligible, min(n_readers, len(eligible)))
        t0 = time.perf_counter()
        x = tfidf_for(corpus, store)
        pos_in_store = {int(r): i for i, r in enumerate(store)}
        cand_local = np.asarray([pos_in_store[int(r)] for r in window])
        # What the digest holds per window (library/foryou.py): one background of older papers, and
        # the keyword vectorizer fitted on up to KEYWORD_SAMPLE random stored papers (the whole
        # 120-day store while it is within KEYWORD_REFIT of that size, as a kept vectorizer is
        # reused in production until the store grows that much).
        older = [int(r) for r in store if corpus.days[r] < t]
        bg_rows = rng.sample(older, min(BACKGROUND, len(older)))
        cand_texts = [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in window]
        bg_texts = [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in bg_rows]
        small = len(store) <= KEYWORD_SAMPLE * (1 + KEYWORD_REFIT)
        fitted_on = store if small else rng.sample(list(store), KEYWORD_SAMPLE)
        terms, min_df = vocabulary
        fitted_texts = [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in fitted_on]
        vectorizer = keywords.fit(fitted_texts, max_features=terms, min_df=min_df)
        background = rec.Background(
            vectors=vecs[bg_rows],
            keywords=keywords.rows(vectorizer, bg_texts),
            ids=[corpus.ids[r] for r in bg_rows],
            meta=metadata.Block.of(meta_rows(corpus, bg_rows)),
        ).prepared()
        cands = rec.Candidates(
            ids=[], vectors=vecs[window], texts=[], authors=[], categories=[],
            keywords=keywords.rows(vectorizer, cand_texts), meta=metadata.Block.of(meta_rows(corpus, window)),
        )  # fmt: skip
        print(
            f"  cutoff {cutoff}: store {len(store):,}, candidates {len(window):,}, "
            f"{len(eligible):,} eligible readers, {len(chosen)} sampled "
            f"(tf-idf {time.perf_counter() - t0:.0f} s)",
            flush=True,
        )
        for _, before, after in chosen:
            library = sorted(before, key=lambda r: -corpus.days[r])[:LIBRARY_MAX]
            relevant = {int(np.nonzero(window == r)[0][0]) for r in after}
            lib_local = np.asarray([pos_in_store[r] for r in library])
            pos = vecs[library]
            profile = rec.Profile(
                positives=pos,
                positive_titles=[corpus.titles[r] for r in library],
                positive_keywords=keywords.rows(
                    vectorizer, [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in library]
                ),
                positive_meta=meta_rows(corpus, library),
                skip=frozenset(corpus.ids[r] for r in library),
            )
            centroid = pos.mean(axis=0)

            def lib(
                method: str,
                p: rec.Profile = profile,
                c: rec.Candidates = cands,
                b: rec.Background = background,
            ) -> np.ndarray:
                return rec.library_scores(candidates=c, profile=p, background=b, method=method)[0]

            runs = {
                "centroid": cands.vectors @ (centroid / (np.linalg.norm(centroid) or 1.0)),
                "arxiv_sanity": arxiv_sanity(x, lib_local, cand_local),
                "nearest": lib("nearest"),
                "linear": lib("linear"),
                "keywords": lib("keywords"),
                "metadata": lib("metadata"),
                "ours": lib("auto"),
            }
            for name, s in runs.items():
                order = np.argsort(-s, kind="stable")
                scores.setdefault(name, []).append(recall_ndcg(order.tolist(), relevant))
            n_total += 1
        # Running means, so that a run stopped early (or split over processes) still reports.
        print(
            "  so far: "
            + " ".join(f"{k}={np.mean([a for a, _ in v]):.3f}" for k, v in scores.items())
            + f" ({n_total} readers)",
            flush=True,
        )
    print(f"  {n_total} {'tuning' if tuning else 'held-out'} readers over {len(cutoffs)} cutoffs")
    return {
        k: (float(np.mean([a for a, _ in v])), float(np.mean([b for _, b in v]))) for k, v in scores.items()
    }


def cost_bench(
    corpus: Corpus, vecs: np.ndarray, subscribers: int, sample: int, rng: random.Random
) -> dict[str, float]:
    n = len(corpus.ids)
    background = rec.Background(vectors=vecs[rng.sample(range(n), BACKGROUND)])
    last = int(corpus.days[[bool(c) for c in corpus.categories]].max())  # the listing file's last day
    recent = np.nonzero(corpus.days >= last - 1)[0]  # a day's new papers: what a daily digest ranks
    month = np.nonzero(corpus.days >= last - 30)[0]  # the "For you" page: the last 30 days

    def cands(rows: np.ndarray) -> rec.Candidates:
        return rec.Candidates(
            ids=[corpus.ids[r] for r in rows],
            vectors=vecs[rows],
            texts=[f"{corpus.titles[r]} {corpus.abstracts[r]}" for r in rows],
            authors=[corpus.authors[r] for r in rows],
            categories=[corpus.categories[r] for r in rows],
        )

    day, page = cands(recent), cands(month)
    t0 = time.perf_counter()
    for _ in range(sample):
        lib = rng.sample(range(n), 50)
        profile = rec.Profile(
            positives=vecs[lib],
            positive_titles=[corpus.titles[r] for r in lib],
            skip=frozenset(corpus.ids[r] for r in lib),
        )
        rec.recommend(candidates=day, profile=profile, background=background, limit=8)
    per = (time.perf_counter() - t0) / sample
    times = []
    for _ in range(max(50, sample // 5)):
        lib = rng.sample(range(n), 200)
        profile = rec.Profile(
            positives=vecs[lib],
            positive_titles=[corpus.titles[r] for r in lib],
            skip=frozenset(corpus.ids[r] for r in lib),
        )
        t1 = time.perf_counter()
        rec.recommend(candidates=page, profile=profile, background=background, limit=50)
        times.append(time.perf_counter() - t1)
    return {
        "digest_candidates": float(len(recent)),
        "page_candidates": float(len(month)),
        "per_subscriber_ms": per * 1000,
        "subscribers_s": per * subscribers,
        "page_p50_ms": float(np.percentile(times, 50) * 1000),
        "page_p95_ms": float(np.percentile(times, 95) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--readers", type=int, default=60, help="readers sampled per cutoff")
    parser.add_argument("--weeks", type=int, default=12)
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--cost-sample", type=int, default=500)
    parser.add_argument(
        "--cutoffs", default="", help="comma list of cutoff indexes (0-4) to run; all by default"
    )
    parser.add_argument("--skip", default="", help="comma list of parts to skip: library,topic,cost")
    parser.add_argument(
        "--tuning", action="store_true", help="library part over the tuning readers (for tuning only)"
    )
    parser.add_argument(
        "--vocabulary",
        default=f"{keywords.MAX_FEATURES}:{keywords.MIN_DF}",
        help="ours' keyword vocabulary, TERMS:MIN_DF (20000:5 is arxiv-sanity's, ours before #13's 100000:2)",
    )
    args = parser.parse_args()
    terms, min_df = (int(n) for n in args.vocabulary.split(":"))
    skip = set(filter(None, args.skip.split(",")))
    rng = random.Random(13)
    t0 = time.perf_counter()
    corpus = load(args.data)
    vecs = vectors(corpus, model=args.model)
    print(
        f"{len(corpus.ids):,} papers, vectors {vecs.shape[1]}-d from {args.model} "
        f"({time.perf_counter() - t0:.0f} s)"
    )
    cutoffs = [CUTOFFS[int(i)] for i in args.cutoffs.split(",")] if args.cutoffs else CUTOFFS
    lib = (
        library_bench(
            corpus, vecs, args.readers, rng, cutoffs=cutoffs, tuning=args.tuning, vocabulary=(terms, min_df)
        )
        if "library" not in skip
        else {}
    )
    topic = (
        topic_bench(corpus, vecs, args.model, rng, args.weeks, background_size=BACKGROUND)
        if "topic" not in skip
        else {}
    )
    cost = cost_bench(corpus, vecs, args.subscribers, args.cost_sample, rng) if "cost" not in skip else {}
    print(f"\n## Library → next {WINDOW_DAYS} days (model {args.model})")
    print(f"{'ranker':<14} {'Recall@20':>10} {'nDCG@20':>9}")
    for name, (r, n) in lib.items():
        print(f"{name:<14} {r:>10.3f} {n:>9.3f}")
    if topic:
        print(f"\n## Topic precision (HF ai_keywords, a week of HF papers; floor {rec.FLOOR})")
        # Precision counts filled slots only: an empty slot is neither right nor wrong (no padding,
        # #13). So that a floor that empties editions cannot look good, on-topic papers per edition
        # and the share of empty editions stand beside it.
        print(
            f"{'selection':<16} {'precision@8':>12} {'filled/8':>9} {'on-topic':>9} "
            f"{'off-topic':>10} {'empty':>7} {'holding:prec@8':>15} {'on-topic':>9}"
        )
        for name, m in topic.items():
            print(
                f"{name:<16} {m['precision@8']:>12.3f} {m['filled']:>9.2f} {m['on_topic']:>9.2f} "
                f"{m['off_topic']:>10.2f} {m['empty_editions']:>7.2f} "
                f"{m['precision@8_holding']:>15.3f} {m['on_topic_holding']:>9.2f}"
            )
        print(
            "(precision@8: the paper carries the HF keyword; holding: it carries an HF keyword holding "
            "the topic's words in order, plurals aside — both lower bounds of relevance)"
        )
    if cost:
        print("\n## Cost (2 shared cores)")
        print(
            f"digest: {cost['per_subscriber_ms']:.1f} ms per subscriber (50-paper library, "
            f"{cost['digest_candidates']:.0f} candidates) → {args.subscribers:,} subscribers in "
            f"{cost['subscribers_s']:.0f} s (timed on {args.cost_sample}, scaled)"
        )
        print(
            f"For you page: 200-paper library over {cost['page_candidates']:.0f} papers of the last 30 days: "
            f"p50 {cost['page_p50_ms']:.1f} ms, p95 {cost['page_p95_ms']:.1f} ms"
        )
    r = {k: v[0] for k, v in lib.items()}
    nan = float("nan")
    tp = topic.get("ours", {}).get("precision@8", nan)
    tt = topic.get("today", {}).get("precision@8", nan)
    th = topic.get("ours", {}).get("precision@8_holding", nan)
    tth = topic.get("today", {}).get("precision@8_holding", nan)
    print(
        f"\nrecall@20 ours={r.get('ours', nan):.3f} arxiv_sanity={r.get('arxiv_sanity', nan):.3f} "
        f"centroid={r.get('centroid', nan):.3f} topic_precision@8={tp:.3f} today={tt:.3f} "
        f"topic_precision@8_holding={th:.3f} today_holding={tth:.3f}"
    )


if __name__ == "__main__":
    main()
