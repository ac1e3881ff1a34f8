"""British and American spellings (#14): do 50 queries find the same top 10 either way?

    .venv/bin/python bench/spelling.py [--data DIR] [--queries 50]

Builds the keyword index the app ranks with (a tantivy index, search/tantivy_index.py, written as the
keyword writer writes it) over the arXiv listing file in a temporary folder, then takes the first
`--queries` titles holding a word of the spelling list (search/data/spelling.txt), writes each both
ways (British, American) and reports the mean top-10 overlap of the two result lists: as the app
ranks now (every spelling asked for) and as it did before #14 (the words as typed).
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
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import tantivy

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchdata import LISTING, add_data_option, data_dir
from papertrend.search import keyword, marks, suggest
from papertrend.search.keyword_writer import values
from papertrend.search.query import parse_query, ranking_terms
from papertrend.search.spelling import _pairs, american
from papertrend.search.tantivy_index import TEXT, WRITER_HEAP, WRITER_THREADS, KeywordIndex, forms

_WORD = re.compile(r"[^\W\d_]+")


def british(text: str) -> str:
    """The text with each American spelling of the list written the British way."""
    back = {a: b for b, a in _pairs().items()}
    return _WORD.sub(lambda m: back.get(m.group(0).lower(), m.group(0)), text)


def listing_index(rows: list[dict[str, Any]], folder: Path) -> KeywordIndex:
    """The app's keyword index over the listing rows (pk = row number + 1), written as the keyword
    writer writes it (`keyword_writer.values`)."""
    index = KeywordIndex(path=folder)
    writer = index.index.writer(heap_size=WRITER_HEAP, num_threads=WRITER_THREADS)
    for pk, row in enumerate(rows, start=1):
        title, abstract = str(row.get("title") or ""), str(row.get("abstract") or "")
        text = values(
            title, abstract, [str(a) for a in row.get("authors") or ()], title_repeats=index.title_repeats
        )
        writer.add_document(tantivy.Document(pk=pk, hash=0, text=text))
    writer.commit()
    del writer
    index.index.reload()
    return index


def top(index: KeywordIndex, query: tantivy.Query | None, limit: int) -> list[int]:
    """The pks of the `limit` best papers for a tantivy query."""
    if query is None:
        return []
    searcher = index.searcher()
    hits = searcher.search(query, limit).hits
    return [int(pk) for pk in searcher.fast_field_values("pk", [a for _, a in hits])] if hits else []


def timing(rows: list[dict[str, Any]], index: KeywordIndex) -> None:
    """p50/p95 of "did you mean" and of marking 20 results, per query."""
    # The vocabulary as the file beside the keyword index holds it (search/vocabulary.py, #15).
    vocab = suggest.vocabulary_of([f"{r.get('title') or ''} {r.get('abstract') or ''}" for r in rows])
    openings = [" ".join(str(r["title"]).split()[:4]) for r in rows[::373][:200]]
    typos = [q[:3] + q[4:] if len(q) > 5 else q for q in openings]
    for label, queries in (("title openings", openings), ("with a typo", typos)):
        suggest_ms, mark_ms, both_ms, both_cpu_ms = [], [], [], []
        for q in queries:
            found = top(index, keyword.to_tantivy(index, parse_query(q), match="any"), 20)
            t0, c0 = time.perf_counter(), time.thread_time()
            suggest.suggestion(q, vocab)
            t1 = time.perf_counter()
            for pk in found:
                row = rows[pk - 1]
                marks.marked(title=str(row["title"]), abstract=str(row["abstract"]), query=q)
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
    tmp = tempfile.TemporaryDirectory()
    index = listing_index(rows, Path(tmp.name))
    spellings = set(_pairs()) | set(_pairs().values())
    queries = [
        row["title"] for row in rows if any(w.lower() in spellings for w in _WORD.findall(row["title"]))
    ][: args.queries]

    def top10(query: str, *, expand: bool) -> list[int]:
        parsed = parse_query(query)
        if expand:  # as the app searches
            return top(index, keyword.to_tantivy(index, parsed, match="any"), 10)
        # Before #14: each typed word's own forms only, no other spelling.
        typed = {t.casefold() for unit in parsed.terms for t in unit}
        words = [t for u in ranking_terms(parsed, "any") for t in u if t.casefold() in typed]
        stems = dict.fromkeys(f for w in words for f in forms(index.analyzer, w))
        terms = [(tantivy.Occur.Should, tantivy.Query.term_query(index.schema, TEXT, f)) for f in stems]
        return top(index, tantivy.Query.boolean_query(terms) if terms else None, 10)

    timing(rows, index)
    for expand, label in ((False, "words as typed (before #14)"), (True, "every spelling (now)")):
        overlaps = []
        for title in queries:
            a, b = top10(british(title), expand=expand), top10(american(title), expand=expand)
            overlaps.append(len(set(a) & set(b)) / max(1, len(a)))
        print(f"{label}: mean top-10 overlap {sum(overlaps) / len(overlaps):.3f} over {len(queries)} queries")


if __name__ == "__main__":
    main()
