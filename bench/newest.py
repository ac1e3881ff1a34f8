"""Newest first that still means relevant (#14): the issue's example searches, sorted by date.

    .venv/bin/python bench/newest.py [--data DIR]

Ranks the arXiv listing file with the in-memory BM25 index (keyword mode: embedding 74k abstracts on
two cores is beyond this bench), with the issue's filters, and prints the ten newest results before
#14 (all 100 candidates sorted by date) and now (only those above the keyword relevance floor,
search/service.py), each judged on topic by a pattern over title and abstract that names the topic.
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from datetime import date
from pathlib import Path

import numpy as np
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import LISTING, add_data_option, data_dir
from papertrend.search import bm25
from papertrend.search.query import parse_query, ranking_terms
from papertrend.search.service import RELEVANCE_FLOOR
from spelling import listing_index

# (query, category, since, until, what "on topic" means)
EXAMPLES = [
    (
        "mixture of experts routing",
        "cs.CL",
        date(2025, 6, 1),
        date(2026, 6, 30),
        r"(mixture[- ]of[- ]experts|\bMoE).*\brout|\brout.*(mixture[- ]of[- ]experts|\bMoE)",
    ),
    ("LLM agents that simulate human behaviour", None, None, None, r"agent.*(simulat|human behavio)"),
    ("speculative decoding draft model", "cs.CL", date(2025, 9, 1), None, r"speculative decoding"),
    ("test-time scaling reasoning", "cs.AI", None, None, r"test[- ]time (scal|comput)"),
]
DEPTH = 100


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    args = parser.parse_args()
    with gzip.open(data_dir(args.data, LISTING) / LISTING, "rb") as fh:
        rows = [orjson.loads(line) for line in fh]
    postings, tok = listing_index(rows)
    for query, category, since, until, topic in EXAMPLES:
        allowed = np.array(
            [
                pk
                for pk, r in enumerate(rows)
                if (category is None or category in r.get("categories", ()))
                and (since is None or date.fromisoformat(r["first_listed"]) >= since)
                and (until is None or date.fromisoformat(r["first_listed"]) <= until)
            ],
            dtype=np.int64,
        )
        stems = tok.stems(
            [w for u in ranking_terms(parse_query(query), "any") for t in u for w in tok.words(t)]
        )
        hits = bm25.top(postings, stems=stems, excluded=[], limit=DEPTH, allowed=allowed)
        best = hits[0][1] if hits else 0.0
        floored = [(pk, s) for pk, s in hits if s >= RELEVANCE_FLOOR["keyword"] * best]

        def on_topic(found: list[tuple[int, float]], topic: str = topic) -> tuple[int, int]:
            newest = sorted(found, key=lambda h: (rows[h[0]]["first_listed"], h[1]), reverse=True)[:10]
            text = [f"{rows[pk]['title']} {rows[pk]['abstract']}" for pk, _ in newest]
            return sum(bool(re.search(topic, t, re.I | re.S)) for t in text), len(newest)

        relevance = [(pk, s) for pk, s in hits[:10]]
        by_rel = sum(
            bool(re.search(topic, f"{rows[pk]['title']} {rows[pk]['abstract']}", re.I | re.S))
            for pk, _ in relevance
        )
        before, now = on_topic(hits), on_topic(floored)
        where = f"{category or 'any category'}, {since or '…'} to {until or '…'}"
        print(
            f"{query!r} ({where}): by relevance {by_rel}/10 · newest first, before #14 "
            f"{before[0]}/{before[1]} · now {now[0]}/{now[1]} ({len(floored)} above the floor)",
            flush=True,
        )


if __name__ == "__main__":
    main()
