"""The relevance floor of the date sort (#14), calibrated on SciFact's train split, checked on test.

    .venv/bin/python bench/floor.py [--data DIR] [--model NAME] [--dump FILE]

"Newest first" sorts only the hits whose score is at least a fraction of the best hit's score. For
each mode (keyword, semantic, hybrid with the default fusion) this runs SciFact's train claims, takes
every relevant abstract found in the top 100 and its score relative to the query's best, and picks as
floor the relative score that keeps KEEP of them (a low quantile). On test it prints the share of the
relevant abstracts found that the floor keeps, and how many of the 100 candidates survive on average:
the date sort then orders a short list of relevant papers instead of all 100 candidates.
`--dump FILE` pickles the result lists (for bench/fusion.py) so the corpus is embedded only once.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from beir import CachingEmbedder, load_beir
from benchdata import SCIFACT, add_data_option, data_dir
from papertrend.search.embedder import DEFAULT_MODEL, get_embedder
from papertrend.search.service import DEFAULT_TUNING
from papertrend.types import Hit
from quality import fused, run_on

# 0.95 kept 33-38 of 100 candidates on test (a date sort of nearly everything), 0.8 lost a fifth
# of the relevant abstracts; 0.9 keeps 89-92% of them and 13-20 candidates.
KEEP = 0.90


def relative_scores(
    ranked: dict[str, list[Hit]], qrels: dict[str, dict[str, int]], to_beir: dict[str, str]
) -> list[float]:
    """Each relevant doc's score over its query's best score, for the relevant docs found."""
    out = []
    for qid, hits in ranked.items():
        if not hits or hits[0].score <= 0:
            continue
        best = hits[0].score
        out += [h.score / best for h in hits if qrels[qid].get(to_beir[h.paper_id], 0) > 0]
    return out


def kept(ranked: dict[str, list[Hit]], floor: float) -> float:
    return statistics.fmean(
        sum(1 for h in hits if h.score >= floor * hits[0].score) if hits else 0 for hits in ranked.values()
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--dump", type=Path, default=None)
    args = parser.parse_args()
    beir = load_beir(data_dir(args.data, SCIFACT) / SCIFACT)
    embedder = CachingEmbedder(get_embedder(args.model))
    run = run_on("sqlite", None, beir, embedder, args.model)
    if args.dump:
        with args.dump.open("wb") as fh:
            pickle.dump(
                {
                    "train": run.train,
                    "test": run.test,
                    "qrels": beir.qrels,
                    "queries": beir.queries,
                    "to_beir": run.store.to_beir,
                },
                fh,
            )
    to_beir = run.store.to_beir
    for mode in ("keyword", "semantic", "hybrid"):
        split_lists = {}
        for split, lists in (("train", run.train), ("test", run.test)):
            if mode == "keyword":
                split_lists[split] = {q: kw for q, (kw, _s, _a, _b) in lists.items()}
            elif mode == "semantic":
                split_lists[split] = {q: sem for q, (_k, sem, _a, _b) in lists.items()}
            else:
                split_lists[split] = fused(lists, DEFAULT_TUNING)
        train = sorted(relative_scores(split_lists["train"], beir.qrels["train"], to_beir))
        floor = train[int((1 - KEEP) * len(train))]
        test = relative_scores(split_lists["test"], beir.qrels["test"], to_beir)
        share = sum(r >= floor for r in test) / max(1, len(test))
        print(
            f"{mode:8s} floor {floor:.3f} of the best score (train, keeps {KEEP:.0%} of relevant found) · "
            f"test: keeps {share:.1%} of relevant found, {kept(split_lists['test'], floor):.1f} of 100 "
            "candidates on average",
            flush=True,
        )


if __name__ == "__main__":
    main()
