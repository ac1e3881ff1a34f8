"""What the keyword query tests share (issues #3, #15): a small tantivy index written without a database,
and the papers a query finds in it."""

from __future__ import annotations

from pathlib import Path

import tantivy

from papertrend.search.keyword import Match, parse_query, to_tantivy
from papertrend.search.keyword_writer import text_hash, values
from papertrend.search.tantivy_index import KeywordIndex


def build(folder: Path, docs: list[tuple[str, str, str]]) -> KeywordIndex:
    """A keyword index holding `docs` as papers 1, 2, …, written without a database."""
    index = KeywordIndex(path=folder)
    writer = index.index.writer(heap_size=15_000_000, num_threads=1)
    for pk, (title, abstract, author) in enumerate(docs, start=1):
        text = values(title, abstract, [author], title_repeats=index.title_repeats)
        writer.add_document(tantivy.Document(pk=pk, hash=text_hash(title, abstract, [author]), text=text))
    writer.commit()
    del writer
    index.index.reload()
    return index


def matches(index: KeywordIndex, query: str, mode: Match = "any") -> list[int]:
    """The pks of the papers the query finds, best first."""
    q = to_tantivy(index, parse_query(query), match=mode)
    if q is None:
        return []
    searcher = index.searcher()
    hits = searcher.search(q, 10).hits
    return [int(pk) for pk in searcher.fast_field_values("pk", [a for _, a in hits])] if hits else []
