"""Keyword search on SQLite: FTS5 with bm25() over title, abstract and authors (issue #3).

Every word reaches FTS5 as a double-quoted string (`to_fts5`), so no user text is ever FTS5 syntax.
The index is migration 0002's external-content table, keyed by `papers.pk`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers.tables import papers
from papertrend.search.filters import conditions
from papertrend.search.query import Match, ParsedQuery, Unit, alternatives, ranking_terms
from papertrend.types import ELLIPSIS, MARK_CLOSE, MARK_OPEN, Filters, Hit

_IN_CHUNK = 900
_INDEX_NEW = sa.text(
    "INSERT INTO papers_fts(rowid, title, abstract, authors) "
    "SELECT pk, title, abstract, (SELECT group_concat(value, ', ') FROM json_each(papers.authors)) "
    "FROM papers WHERE id IN :ids"
).bindparams(sa.bindparam("ids", expanding=True))

_fts = sa.table("papers_fts", sa.column("rowid", sa.Integer))
# The table name itself is the first argument of FTS5's auxiliary functions and the MATCH target.
_FTS_NAME: sa.ColumnClause[Any] = sa.literal_column("papers_fts")


def _quoted(unit: Unit) -> str:
    # Inside an FTS5 string only `"` is special, and tokens hold none; doubling it is belt and braces.
    return '"' + " ".join(t.replace('"', '""') for t in unit) + '"'


def _any_spelling(unit: Unit) -> str:
    # Every word required, in any of its spellings (#14).
    alts = [_quoted(a) for a in alternatives(unit)]
    return alts[0] if len(alts) == 1 else "(" + " OR ".join(alts) + ")"


def to_fts5(parsed: ParsedQuery, *, mode: Match) -> str | None:
    """A safe FTS5 MATCH expression for the query, or None when nothing searchable remains."""
    if mode not in ("any", "all"):
        raise ValueError(f"unknown match mode {mode!r}; use 'any' or 'all'")
    if parsed.empty:
        return None
    phrases = [_quoted(u) for u in parsed.phrases]
    if mode == "all":
        terms = [_any_spelling(u) for u in ranking_terms(parsed, mode)]
    else:
        terms = [_quoted(u) for u in ranking_terms(parsed, mode)]
    if mode == "all":
        expr = " AND ".join([*phrases, *terms])
    elif not phrases:
        expr = " OR ".join(terms)
    elif not terms:
        expr = " AND ".join(phrases)
    else:
        # Phrases are required, terms only rank. FTS5 has no optional operator, so the terms are
        # OR-ed with the first phrase, which every match already holds; bm25 still scores each
        # term where it occurs (that phrase simply counts twice, fitting for something quoted).
        optional = " OR ".join([phrases[0], *terms])
        expr = " AND ".join([*phrases, f"({optional})"])
    if parsed.excluded:
        expr = f"({expr}) NOT ({' OR '.join(_quoted(u) for u in parsed.excluded)})"
    return expr


def search(
    *,
    conn: Connection,
    parsed: ParsedQuery,
    limit: int,
    filters: Filters,
    weights: tuple[float, float, float],
    match: Match,
) -> list[Hit]:
    """Papers matching the query, best first, scored by -bm25() so that higher is better."""
    expr = to_fts5(parsed, mode=match)
    if expr is None or limit <= 0:
        return []
    w_title, w_abstract, w_authors = (float(w) for w in weights)
    matches = _FTS_NAME.op("MATCH")(expr)
    bm25 = sa.func.bm25(_FTS_NAME, w_title, w_abstract, w_authors).label("bm25")
    where = conditions(filters)
    if where:
        stmt = (
            sa.select(papers.c.id, bm25)
            .select_from(_fts.join(papers, papers.c.pk == _fts.c.rowid))
            .where(matches, *where)
            .order_by(bm25, papers.c.pk)
            .limit(limit)
        )
    else:
        # Rank inside the index first and read only the `limit` winners' rows: joining every match
        # to `papers` before sorting doubled the time of a query matching most papers.
        ranked = (
            sa.select(_fts.c.rowid.label("pk"), bm25)
            .where(matches)
            .order_by(bm25, _fts.c.rowid)
            .limit(limit)
            .subquery()
        )
        stmt = (
            sa.select(papers.c.id, ranked.c.bm25)
            .join_from(ranked, papers, papers.c.pk == ranked.c.pk)
            .order_by(ranked.c.bm25, ranked.c.pk)
        )
    # Ties (equal bm25) go to the earlier stored paper, so paging is stable.
    return [Hit(paper_id=row.id, score=-float(row.bm25)) for row in conn.execute(stmt)]


def marked(
    *, conn: Connection, parsed: ParsedQuery, paper_ids: Sequence[str], tokens: int
) -> dict[str, tuple[str, str]]:
    """(title, abstract excerpt) of each matching paper, matches wrapped in MARK_OPEN/MARK_CLOSE."""
    # Highlight what any of the words matched, whatever mode found the paper.
    expr = to_fts5(parsed, mode="any")
    if expr is None or not paper_ids:
        return {}
    title = sa.func.highlight(_FTS_NAME, 0, MARK_OPEN, MARK_CLOSE)
    abstract = sa.func.snippet(_FTS_NAME, 1, MARK_OPEN, MARK_CLOSE, ELLIPSIS, max(1, min(tokens, 64)))
    out: dict[str, tuple[str, str]] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = (
            sa.select(papers.c.id, title.label("title"), abstract.label("abstract"))
            .select_from(_fts.join(papers, papers.c.pk == _fts.c.rowid))
            .where(_FTS_NAME.op("MATCH")(expr), papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        )
        for row in conn.execute(stmt):
            out[row.id] = (row.title, row.abstract)
    return out


def _matching(conn: Connection, expr: str, ids: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = (
            sa.select(papers.c.id)
            .select_from(_fts.join(papers, papers.c.pk == _fts.c.rowid))
            .where(_FTS_NAME.op("MATCH")(expr), papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        )
        found.update(conn.execute(stmt).scalars())
    return found


def holding(*, conn: Connection, parsed: ParsedQuery, paper_ids: Sequence[str]) -> set[str]:
    """Of `paper_ids`, those holding every quoted phrase and none of the excluded words (#14)."""
    ids = list(dict.fromkeys(paper_ids))
    kept = set(ids)
    if parsed.phrases:
        kept = _matching(conn, " AND ".join(_quoted(u) for u in parsed.phrases), ids)
    if parsed.excluded and kept:
        # FTS5 has no NOT without a positive side, so the excluded are found and taken away.
        kept -= _matching(conn, " OR ".join(_quoted(u) for u in parsed.excluded), sorted(kept))
    return kept


def index_new(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """Add newly inserted papers to the FTS5 index, set-based (migration 0002 explains why)."""
    for start in range(0, len(paper_ids), _IN_CHUNK):
        conn.execute(_INDEX_NEW, {"ids": list(paper_ids[start : start + _IN_CHUNK])})
