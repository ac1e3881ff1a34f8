"""Keyword search: BM25 over title, abstract and authors, on SQLite or PostgreSQL (issues #3, #6).

One entry point for callers; the database's own backend does the work behind it — SQLite's FTS5
(search/fts5.py) or PostgreSQL's weighted tsvector with BM25 postings (search/tsvector.py). Both
rank by the same BM25 with the same column weights, so results agree (SciFact test nDCG@10 0.692
on SQLite, 0.696 on PostgreSQL). How user text is read is search/query.py's business.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType

from sqlalchemy.engine import Connection

from papertrend.papers import repository
from papertrend.search import bm25, fts5, tsvector
from papertrend.search.bm25 import MemoryIndex
from papertrend.search.query import (
    MAX_QUERY_CHARS,
    MAX_UNITS,
    STOPWORDS,
    Match,
    ParsedQuery,
    parse_query,
    ranking_terms,
)
from papertrend.search.vectors import allowed_pks
from papertrend.types import MARK_CLOSE, MARK_OPEN, Filters, Hit

__all__ = [
    "DEFAULT_MATCH",
    "DEFAULT_WEIGHTS",
    "MAX_QUERY_CHARS",
    "MAX_UNITS",
    "STOPWORDS",
    "Highlight",
    "Match",
    "ParsedQuery",
    "highlights",
    "holding",
    "index_new",
    "parse_query",
    "search",
    "to_fts5",
]

# bm25() column weights (title, abstract, authors), chosen on SciFact's train split by
# bench/keyword_weights.py: title 3 × abstract 1 scored nDCG@10 0.708 on train (equal weights 0.702)
# and 0.692 on test, against 0.686 for the BM25 reference. Authors cannot be tuned there (SciFact has
# none): a name counts like an abstract word.
DEFAULT_WEIGHTS: tuple[float, float, float] = (3.0, 1.0, 1.0)
# "all" scored 0.060 on train: a claim's every word is rarely in one abstract.
DEFAULT_MATCH: Match = "any"

_BACKENDS: dict[str, ModuleType] = {"sqlite": fts5, "postgresql": tsvector}


def to_fts5(parsed: ParsedQuery, *, mode: Match = DEFAULT_MATCH) -> str | None:
    """The FTS5 MATCH expression SQLite runs for a parsed query (None when nothing is searchable)."""
    return fts5.to_fts5(parsed, mode=mode)


def _backend(conn: Connection) -> ModuleType:
    try:
        return _BACKENDS[conn.dialect.name]
    except KeyError:
        raise NotImplementedError(
            f"keyword search runs on SQLite or PostgreSQL, not {conn.dialect.name}"
        ) from None


def search(
    *,
    conn: Connection,
    query: str,
    limit: int = 50,
    filters: Filters = Filters(),  # frozen, so one shared default is safe
    weights: tuple[float, float, float] = DEFAULT_WEIGHTS,
    match: Match = DEFAULT_MATCH,
    memory: MemoryIndex | None = None,
) -> list[Hit]:
    """Papers matching `query`, best first, scored by BM25 (higher is better).

    With `memory` (a long-lived process's in-memory index, search/bm25.py), queries of loose words
    are ranked from it once it is built; the rest, and everything until then, by the database.
    """
    backend = _backend(conn)
    if match not in ("any", "all"):
        raise ValueError(f"unknown match mode {match!r}; use 'any' or 'all'")
    parsed = parse_query(query)
    if parsed.empty or limit <= 0:
        return []
    if memory is not None and weights == memory.weights:
        found = _from_memory(
            conn=conn, memory=memory, parsed=parsed, limit=limit, filters=filters, match=match
        )
        if found is not None:
            return found
    hits: list[Hit] = backend.search(
        conn=conn, parsed=parsed, limit=limit, filters=filters, weights=weights, match=match
    )
    return hits


def _from_memory(
    conn: Connection, memory: MemoryIndex, parsed: ParsedQuery, *, limit: int, filters: Filters, match: Match
) -> list[Hit] | None:
    """The in-memory ranking, or None when it cannot answer this query (yet)."""
    # Phrases and every-word mode need word positions, which only the database's index keeps.
    if match != "any" or parsed.phrases or any(len(unit) > 1 for unit in parsed.excluded):
        return None
    postings = memory.ready(conn=conn)
    if postings is None:
        return None
    stems = memory.query_stems(t for unit in ranking_terms(parsed, "any") for t in unit)
    excluded = memory.query_stems(unit[0] for unit in parsed.excluded)
    allowed = allowed_pks(conn=conn, filters=filters)
    ranked = bm25.top(postings, stems=stems, excluded=excluded, limit=limit, allowed=allowed)
    if not ranked:
        return []
    ids = repository.ids_for_pks(conn=conn, pks=[pk for pk, _ in ranked])
    return [Hit(paper_id=ids[pk], score=score) for pk, score in ranked if pk in ids]


def holding(*, conn: Connection, query: str, paper_ids: Sequence[str]) -> list[str]:
    """The papers, in order, that hold every quoted phrase of `query` and none of its excluded words
    or phrases: what search by meaning must keep too, in every sort and feed (#14)."""
    parsed = parse_query(query)
    if not parsed.phrases and not parsed.excluded:
        return list(paper_ids)
    kept: set[str] = _backend(conn).holding(conn=conn, parsed=parsed, paper_ids=paper_ids)
    return [pid for pid in paper_ids if pid in kept]


@dataclass(frozen=True, slots=True)
class Highlight:
    """HTML-safe texts with the query's matches wrapped in <mark>: the whole title, an abstract excerpt."""

    title: str
    abstract: str


def _marked_html(text: str) -> str:
    return html.escape(text, quote=True).replace(MARK_OPEN, "<mark>").replace(MARK_CLOSE, "</mark>")


def highlights(
    *, conn: Connection, query: str, paper_ids: Sequence[str], tokens: int = 32
) -> dict[str, Highlight]:
    """HTML-safe highlighted title and abstract excerpt for each paper that matches `query`."""
    backend = _backend(conn)
    parsed = parse_query(query)
    if parsed.empty or not paper_ids:
        return {}
    found: dict[str, tuple[str, str]] = backend.marked(
        conn=conn, parsed=parsed, paper_ids=paper_ids, tokens=max(1, min(tokens, 64))
    )
    return {
        pid: Highlight(_marked_html(title), _marked_html(abstract))
        for pid, (title, abstract) in found.items()
    }


def index_new(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """Add newly inserted papers to the keyword index, in the caller's transaction.

    Changed and deleted papers are kept in sync by triggers (migrations 0002 and 0008); new ones come
    here, set-based, because a per-row trigger halved bulk ingest speed.
    """
    if paper_ids:
        _backend(conn).index_new(conn=conn, paper_ids=paper_ids)
