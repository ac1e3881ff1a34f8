"""How far the signals a library gives can take Recall@20 (issue #13): a learned combination, measured.

    .venv/bin/python bench/recommend_signals.py [--data DIR] [--model minilm] [--readers 80] [--jobs 2]

bench/recommend.py's readers (an author's earlier papers as the library, their papers of the next 14
days as the relevant ones, author names hidden), `--readers` tuning and `--readers` held-out readers
at each of its 5 cutoffs (`held_out`). For every reader and candidate it computes each signal the
store holds: ours and its parts (library.recommend: the keyword model, the vector model), the nearest
saved paper and the top-3 mean by vectors and by keywords, the categories the library shares,
character 3–5-grams (style and word forms), the arXiv comment ("Accepted to CVPR 2026", "Project
page: …") as TF-IDF and comment + categories as a naive Bayes model, and two priors that know no
reader (abstract length, number of categories). A logistic regression over the signals (each in
standard deviations over the reader's candidates, classes balanced per reader) is fitted on the tuning
readers and scored on the held-out ones beside arxiv-sanity's recipe, as is a gradient-boosted one.

Ends with: recall@20 arxiv_sanity=… ours=… learned=… learned_priors=… boosted=… readers=…
"""

from __future__ import annotations

import argparse
import math
import random
import re
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from papertrend.library import keywords, metadata, models
from papertrend.library import recommend as rec
from recommend import (
    BACKGROUND,
    CUTOFFS,
    HISTORY_DAYS,
    LIBRARY_MAX,
    MIN_LIBRARY,
    WINDOW_DAYS,
    arxiv_sanity,
    held_out,
    recall_ndcg,
    tfidf_for,
)
from recommend_data import DATA, Corpus, load, vectors

SIGNALS = (
    "ours", "keywords", "linear", "nearest", "vec_top3", "kw_max", "kw_top3", "categories", "chars",
    "comment", "comment_nb", "length", "n_categories", "meta_comment", "meta_categories",
)  # fmt: skip
PRIORS = ("length", "n_categories")  # the same for every reader: they know the bench, not the reader
PRODUCTION = ("meta_comment", "meta_categories")  # library/metadata.py's two signals, as ours has them
COMBINED = {
    "learned: keywords + vectors": ("keywords", "linear"),
    "+ comment, categories": ("keywords", "linear", "comment", "categories"),
    "learned: every reader signal": tuple(s for s in SIGNALS if s not in PRIORS + PRODUCTION and s != "ours"),
    "learned: + priors": tuple(s for s in SIGNALS if s not in PRODUCTION and s != "ours"),
}
YEAR_OR_WORD = re.compile(r"[a-z]+|(?:19|20)\d\d")

# One reader: the candidates' signals (len(SIGNALS), n), which are relevant, arxiv-sanity's scores.
Reader = tuple[np.ndarray, np.ndarray, np.ndarray]


def meta_tokens(comment: str, categories: list[str]) -> set[str]:
    """A paper's comment words and years, whether it has one, and its categories, as tokens."""
    text = comment.lower()
    toks = (
        set(YEAR_OR_WORD.findall(text))
        | {"cat:" + c for c in categories}
        | {f"ncat:{min(len(categories), 4)}"}
    )
    if not text:
        toks.add("comment:none")
    if categories:
        toks.add("primary:" + categories[0])
    return toks


def cutoff_readers(args: tuple[Path, str, int, int, int]) -> dict[bool, list[Reader]]:
    """Both halves' readers at one cutoff, with every signal (one process)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    data, model, index, n_readers, seed = args
    corpus = load(data)
    vecs = vectors(corpus, model=model)
    rng = random.Random(seed + index)
    t = CUTOFFS[index].toordinal()
    listed = np.asarray([bool(c) for c in corpus.categories])
    store = np.nonzero(listed & (corpus.days >= t - HISTORY_DAYS) & (corpus.days < t + WINDOW_DAYS))[0]
    window = store[corpus.days[store] >= t]
    by_author: dict[str, list[int]] = {}
    for r in store:
        for a in corpus.authors[r]:
            by_author.setdefault(a, []).append(int(r))
    texts = [keywords.text(corpus.titles[r], corpus.abstracts[r]) for r in store]
    x = keywords.rows(keywords.fit(texts), texts).tocsr()
    x_sanity = tfidf_for(corpus, store).tocsr()
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=5, max_df=0.5, max_features=200_000
    ).fit_transform([corpus.titles[r] + " " + corpus.abstracts[r] for r in store])
    notes = TfidfVectorizer(
        token_pattern=r"(?u)\b[a-zA-Z0-9]{2,}\b", ngram_range=(1, 2), sublinear_tf=True, min_df=3
    ).fit_transform([corpus.comments[r] for r in store])
    metas = [meta_tokens(corpus.comments[r], corpus.categories[r]) for r in store]
    at = {int(r): i for i, r in enumerate(store)}
    cand = np.asarray([at[int(r)] for r in window])
    older = [i for i, r in enumerate(store) if corpus.days[r] < t]
    bg = np.asarray(rng.sample(older, min(BACKGROUND, len(older))))
    v = vecs[store]
    meta = metadata.rows([metadata.text(corpus.comments[r], corpus.categories[r]) for r in store])
    background = rec.Background(
        vectors=v[bg],
        keywords=x[bg],
        ids=[corpus.ids[store[i]] for i in bg],
        meta=metadata.Block.of(meta[bg]),
    ).prepared()
    cand_meta = metadata.Block.of(meta[cand])
    cands = rec.Candidates(ids=[], vectors=v[cand], texts=[], authors=[], categories=[], keywords=x[cand])
    bg_df = Counter(tok for i in bg for tok in metas[i])
    cats = [corpus.categories[r] for r in store]
    out: dict[bool, list[Reader]] = {}
    for held in (False, True):
        eligible = []
        for a, rows in sorted(by_author.items()):
            before = [r for r in rows if corpus.days[r] < t]
            after = [r for r in rows if corpus.days[r] >= t]
            if held_out(a) == held and len(before) >= MIN_LIBRARY and after:
                eligible.append((before, after))
        readers = []
        for before, after in rng.sample(eligible, min(n_readers, len(eligible))):
            lib = np.asarray([at[r] for r in sorted(before, key=lambda r: -corpus.days[r])[:LIBRARY_MAX]])
            relevant = np.isin(window, after)
            profile = rec.Profile(
                positives=v[lib], positive_titles=[""] * len(lib), positive_keywords=x[lib],
                skip=frozenset(corpus.ids[store[i]] for i in lib),
            )  # fmt: skip
            f = {
                m: rec.library_scores(candidates=cands, profile=profile, background=background, method=m)[0]
                for m in ("auto", "keywords", "linear", "nearest")
            }
            f["ours"] = f.pop("auto")
            kw_sims = np.sort((x[cand] @ x[lib].T).toarray(), axis=1)
            f["kw_max"], f["kw_top3"] = kw_sims[:, -1], kw_sims[:, -3:].mean(axis=1)
            f["vec_top3"] = np.sort(v[cand] @ v[lib].T, axis=1)[:, -3:].mean(axis=1)
            shared = Counter(c for i in lib for c in cats[i])
            f["categories"] = np.asarray(
                [sum(shared[c] for c in cats[i]) / len(lib) / max(1, len(cats[i])) for i in cand]
            )
            for name, m in (("chars", chars), ("comment", notes)):
                w = np.asarray(m[lib].mean(axis=0)).ravel() - np.asarray(m[bg].mean(axis=0)).ravel()
                f[name] = m[cand] @ w
            lib_df = Counter(tok for i in lib for tok in metas[i])
            ratio: dict[str, float] = {}
            for tok in set().union(*(metas[i] for i in cand)):
                p_bg = (bg_df[tok] + 0.5) / (len(bg) + 1)
                ratio[tok] = math.log((lib_df[tok] + 2 * p_bg) / (len(lib) + 2) / p_bg)
            f["comment_nb"] = np.asarray([sum(ratio[tok] for tok in metas[i]) for i in cand])
            f["meta_comment"], f["meta_categories"] = models.metadata_scores(
                cand_meta, models.metadata_model(meta[lib], background)
            )
            f["length"] = np.asarray([len(corpus.abstracts[store[i]]) for i in cand], dtype=float)
            f["n_categories"] = np.asarray([len(cats[i]) for i in cand], dtype=float)
            svc = arxiv_sanity(x_sanity, lib, cand) if held else np.zeros(len(cand))
            readers.append((np.stack([f[s] for s in SIGNALS]).astype(np.float32), relevant, svc))
        out[held] = readers
    print(
        f"  cutoff {CUTOFFS[index]}: {len(out[False])} tuning, {len(out[True])} held-out readers", flush=True
    )
    return out


def standard(f: np.ndarray, use: tuple[str, ...]) -> np.ndarray:
    """The chosen signals of one reader, each in standard deviations over its candidates, as columns."""
    rows = np.asarray([f[SIGNALS.index(s)] for s in use], dtype=np.float64)
    return ((rows - rows.mean(axis=1, keepdims=True)) / (rows.std(axis=1, keepdims=True) + 1e-12)).T


def fit_scorer(readers: list[Reader], use: tuple[str, ...], *, boosted: bool = False):  # type: ignore[no-untyped-def]
    """A scorer of one reader's signals, fitted on these readers (each reader's classes weighted alike)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    x = np.concatenate([standard(f, use) for f, _, _ in readers])
    y = np.concatenate([r for _, r, _ in readers])
    w = np.concatenate([np.where(r, 1.0 / r.sum(), 1.0 / (~r).sum()) for _, r, _ in readers]) * len(readers)
    if boosted:
        gb = HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=200, max_leaf_nodes=15, min_samples_leaf=200
        )
        gb.fit(x, y, sample_weight=w)
        return lambda f: gb.predict_proba(standard(f, use))[:, 1]
    lr = LogisticRegression(C=1.0, max_iter=3000).fit(x, y, sample_weight=w)
    return lambda f: standard(f, use) @ lr.coef_[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--readers", type=int, default=80, help="readers of each half sampled per cutoff")
    parser.add_argument("--jobs", type=int, default=2, help="cutoffs computed at once")
    parser.add_argument("--save", type=Path, help="also write every reader's signals here (.npz)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    load_check: Corpus = load(args.data)  # a missing --data fails here, before the workers start
    vectors(load_check, model=args.model)  # embedded and cached once, not in each worker
    del load_check
    jobs = [(args.data, args.model, i, args.readers, 13) for i in range(len(CUTOFFS))]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        parts = list(pool.map(cutoff_readers, jobs))
    tuning = [r for p in parts for r in p[False]]
    held = [r for p in parts for r in p[True]]
    if args.save is not None:
        np.savez_compressed(
            args.save,
            signals=np.asarray(SIGNALS),
            **{
                f"{half}_{k}_{i}": a
                for half, rs in (("tuning", tuning), ("held", held))
                for i, r in enumerate(rs)
                for k, a in zip("frs", r, strict=True)
            },
        )
    svc = np.asarray(
        [recall_ndcg(np.argsort(-s, kind="stable").tolist(), set(np.nonzero(r)[0]))[0] for _, r, s in held]
    )

    def recall(scores: np.ndarray, relevant: np.ndarray) -> float:
        return recall_ndcg(np.argsort(-scores, kind="stable").tolist(), set(np.nonzero(relevant)[0]))[0]

    rows: dict[str, tuple[float, np.ndarray]] = {}
    for s in SIGNALS:
        i = SIGNALS.index(s)
        rows[s] = (
            float(np.mean([recall(f[i], r) for f, r, _ in tuning])),
            np.asarray([recall(f[i], r) for f, r, _ in held]),
        )
    for name, use in [*COMBINED.items(), ("boosted: + priors", COMBINED["learned: + priors"])]:
        score = fit_scorer(tuning, use, boosted=name.startswith("boosted"))
        rows[name] = (
            float(np.mean([recall(score(f), r) for f, r, _ in tuning])),
            np.asarray([recall(score(f), r) for f, r, _ in held]),
        )
    print(f"\n## Recall@20, {len(tuning)} tuning and {len(held)} held-out readers ({args.model})")
    print(f"{'ranker':<30} {'tuning':>7} {'held-out':>9} {'× arxiv-sanity':>15} {'paired diff ± se':>18}")
    print(f"{'arxiv-sanity (LinearSVC)':<30} {'':>7} {svc.mean():>9.3f} {1:>15.2f}")
    for name, (tune, out) in rows.items():
        d = out - svc
        print(
            f"{name:<30} {tune:>7.3f} {out.mean():>9.3f} {out.mean() / svc.mean():>15.2f} "
            f"{d.mean():>+10.3f} ± {d.std() / math.sqrt(len(d)):.3f}"
        )
    print(f"({time.perf_counter() - t0:.0f} s)")
    # The fused model's weights (library/recommend.py), each signal in standard deviations over the
    # candidates: keywords 1, vectors VECTOR_WEIGHT, then the metadata signals.
    print("\n## Weights of the metadata signals beside keywords 1 + vectors 1/3 (Recall@20)")
    print(f"{'categories':>10} {'comment':>8} {'tuning':>7} {'held-out':>9} {'× arxiv-sanity':>15}")
    for cat_w in (0.0, 0.5, 0.75, 1.0):
        for com_w in (0.0, 0.3, 0.45, 0.6):
            use = ("keywords", "linear", "meta_categories", "meta_comment")
            w = np.asarray([1.0, 1 / 3, cat_w, com_w])
            tune = float(np.mean([recall(standard(f, use) @ w, r) for f, r, _ in tuning]))
            out = np.asarray([recall(standard(f, use) @ w, r) for f, r, _ in held])
            ratio = out.mean() / svc.mean()
            print(f"{cat_w:>10.2f} {com_w:>8.2f} {tune:>7.3f} {out.mean():>9.3f} {ratio:>15.2f}")
    print(
        f"\nrecall@20 arxiv_sanity={svc.mean():.3f} ours={rows['ours'][1].mean():.3f} "
        f"learned={rows['learned: every reader signal'][1].mean():.3f} "
        f"learned_priors={rows['learned: + priors'][1].mean():.3f} "
        f"boosted={rows['boosted: + priors'][1].mean():.3f} readers={len(held)}"
    )


if __name__ == "__main__":
    main()
