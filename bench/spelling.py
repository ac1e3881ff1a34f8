"""British and American spellings (#14): do 50 queries find the same top 10 either way?

    .venv/bin/python bench/spelling.py [--data DIR] [--queries 50]

Builds the in-memory BM25 index the web app ranks with (search/bm25.py) over the arXiv listing file,
then takes the first `--queries` titles holding a word of the spelling list (search/data/spelling.txt),
writes each both ways (British, American) and reports the mean top-10 overlap of the two result
lists: as the app ranks now (every spelling asked for) and as it did before #14 (the words as typed).
Embedded queries need no run: `embedder.query_text` writes both the same, so their vectors are equal.

It also times what #14 adds to a search page, p50/p95 over 200 title openings as people type them
(and the same with one letter dropped, a typo): "did you mean" against the corpus vocabulary
(search/suggest.py), marking the query's words in 20 results (search/marks.py), and both together,
in wall time and in this thread's CPU time (what they cost on an idle core, whatever the load).
"""

from __future__ import annotations

import argparse
import gzip
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import LISTING, add_data_option, data_dir
from papertrend.search import bm25, keyword, marks, suggest
from papertrend.search.query import parse_query, ranking_terms
from papertrend.search.spelling import _pairs, american

_WORD = re.compile(r"[^\W\d_]+")


def british(text: str) -> str:
    """The text with each American spelling of the list written the British way."""
    back = {a: b for b, a in _pairs().items()}
    return _WORD.sub(lambda m: back.get(m.group(0).lower(), m.group(0)), text)


def listing_index(rows: list[dict[str, Any]]) -> tuple[bm25.Postings, bm25.Tokenizer]:
    """The in-memory BM25 index the web app ranks with, over the listing rows (pk = row number)."""
    tok = bm25.Tokenizer()
    w_title, w_abstract, w_authors = keyword.DEFAULT_WEIGHTS

    def docs() -> Iterator[tuple[int, dict[str, float], int]]:
        for pk, row in enumerate(rows):
            fields = (
                (row.get("title") or "", w_title),
                (row.get("abstract") or "", w_abstract),
                (", ".join(row.get("authors") or ()), w_authors),
            )
            yield (pk, *bm25.document(tok, fields))

    signature = bm25.Signature(len(rows), "")
    return bm25.postings_of(docs(), signature=signature, weights=keyword.DEFAULT_WEIGHTS), tok


def timing(rows: list[dict[str, Any]], postings: bm25.Postings, tok: bm25.Tokenizer) -> None:
    """p50/p95 of "did you mean" and of marking 20 results, per query."""
    # The vocabulary as the file beside the keyword index holds it (search/vocabulary.py, #15).
    vocab = suggest.vocabulary_of([f"{r.get('title') or ''} {r.get('abstract') or ''}" for r in rows])
    openings = [" ".join(str(r["title"]).split()[:4]) for r in rows[::373][:200]]
    typos = [q[:3] + q[4:] if len(q) > 5 else q for q in openings]
    for label, queries in (("title openings", openings), ("with a typo", typos)):
        suggest_ms, mark_ms, both_ms, both_cpu_ms = [], [], [], []
        for q in queries:
            stems = tok.stems([w for t in q.split() for w in tok.words(t)])
            top = bm25.top(postings, stems=stems, excluded=[], limit=20, allowed=None)
            t0, c0 = time.perf_counter(), time.thread_time()
            suggest.suggestion(q, vocab)
            t1 = time.perf_counter()
            for pk, _ in top:
                marks.marked(title=str(rows[pk]["title"]), abstract=str(rows[pk]["abstract"]), query=q)
            t2, c2 = time.perf_counter(), time.thread_time()
            suggest_ms.append((t1 - t0) * 1000)
            mark_ms.append((t2 - t1) * 1000)
            both_ms.append((t2 - t0) * 1000)
            # CPU time of this thread: what the two cost on an idle core, whatever the load.
            both_cpu_ms.append((c2 - c0) * 1000)
        for name, ms in (
            ("did you mean", suggest_ms),
            ("marks, 20 results", mark_ms),
            ("both", both_ms),
            ("both, CPU time", both_cpu_ms),
        ):
            q50, q95 = statistics.quantiles(ms, n=100)[49], statistics.quantiles(ms, n=100)[94]
            print(f"{label:15s} {name:18s} p50 {q50:.2f} ms · p95 {q95:.2f} ms", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_data_option(parser)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    folder = data_dir(args.data, LISTING)
    with gzip.open(folder / LISTING, "rb") as fh:
        rows = [orjson.loads(line) for line in fh]
    postings, tok = listing_index(rows)
    spellings = set(_pairs()) | set(_pairs().values())
    queries = [
        row["title"] for row in rows if any(w.lower() in spellings for w in _WORD.findall(row["title"]))
    ][: args.queries]

    def top10(query: str, *, expand: bool) -> list[int]:
        parsed = parse_query(query)
        units = ranking_terms(parsed, "any")
        if not expand:
            typed = {t.casefold() for unit in parsed.terms for t in unit}
            units = [u for u in units if u[0].casefold() in typed]
        stems = tok.stems([w for u in units for t in u for w in tok.words(t)])
        return [pk for pk, _ in bm25.top(postings, stems=stems, excluded=[], limit=10, allowed=None)]

    timing(rows, postings, tok)
    for expand, label in ((False, "words as typed (before #14)"), (True, "every spelling (now)")):
        overlaps = []
        for title in queries:
            a, b = top10(british(title), expand=expand), top10(american(title), expand=expand)
            overlaps.append(len(set(a) & set(b)) / max(1, len(a)))
        print(f"{label}: mean top-10 overlap {sum(overlaps) / len(overlaps):.3f} over {len(queries)} queries")


if __name__ == "__main__":
    main()
