"""Keyword search on PostgreSQL: BM25 from postings of the weighted tsvector (issues #3, #6).

`papers.search_tsv` (migration 0007) holds title (weight A), abstract (B) and authors (C); its GIN
index answers what must or must not match (quoted phrases, exclusions, every word in "all" mode).
Ranking is FTS5's BM25, column-weighted the same way, summed from `keyword_postings` (migration
0008, which says why `ts_rank` was not enough). User text only ever reaches PostgreSQL as a bound
parameter of `to_tsvector`/`phraseto_tsquery`, which read it as plain text, never as query syntax.

Words are stemmed with the `english` configuration, as the title and abstract are; author names are
indexed unstemmed (`simple`), so a query's words are looked up in both forms.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.engine import Connection

from papertrend.papers.tables import papers
from papertrend.search.filters import conditions
from papertrend.search.query import Match, ParsedQuery, Unit, alternatives, ranking_terms
from papertrend.types import ELLIPSIS, MARK_CLOSE, MARK_OPEN, Filters, Hit

_LT = "\ue000"
# FTS5's bm25() constants and its floor for the idf of a word in more than half the papers.
K1, B = 1.2, 0.75
MIN_IDF = 1e-6

_search_tsv: sa.ColumnClause[Any] = sa.literal_column("papers.search_tsv")
_postings = sa.table(
    "keyword_postings",
    sa.column("lexeme", sa.Text),
    sa.column("paper_pk", sa.Integer),
    sa.column("tf_title", sa.Integer),
    sa.column("tf_abstract", sa.Integer),
    sa.column("tf_authors", sa.Integer),
    sa.column("doc_len", sa.Integer),
)

# The query's words as index lexemes, each with its document frequency, and the collection totals.
_LEXEME_STATS = sa.text(
    """
    WITH q AS (
        SELECT DISTINCT x.lexeme
        FROM unnest(CAST(:terms AS text[])) AS t(term),
             unnest(to_tsvector('english', t.term) || to_tsvector('simple', t.term)) AS x
    )
    SELECT q.lexeme, (SELECT count(*) FROM keyword_postings p WHERE p.lexeme = q.lexeme) AS df,
           s.docs, s.total_len
    FROM q CROSS JOIN keyword_stats s
    """
)


def idf(*, docs: int, df: int) -> float:
    """FTS5's inverse document frequency: log((N - n + 0.5) / (n + 0.5)), floored at MIN_IDF."""
    if df <= 0 or docs <= 0:
        return 0.0
    return max(MIN_IDF, math.log((docs - df + 0.5) / (df + 0.5)))


def _unit_queries(unit: Unit) -> tuple[sa.ColumnElement[Any], sa.ColumnElement[Any]]:
    """A word or phrase as tsqueries: stemmed (title, abstract) and unstemmed (author names)."""
    text = " ".join(unit)
    stemmed = sa.func.phraseto_tsquery(sa.literal_column("'english'::regconfig"), text)
    plain = sa.func.phraseto_tsquery(sa.literal_column("'simple'::regconfig"), text)
    return stemmed, plain


def _any_of(units: Sequence[Unit]) -> sa.ColumnElement[Any]:
    """A tsquery matching any of the words or phrases, in either form."""
    query: sa.ColumnElement[Any] | None = None
    for unit in units:
        for part in _unit_queries(unit):
            query = part if query is None else query.op("||")(part)
    assert query is not None
    return query


def _matches(query: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    return _search_tsv.op("@@", return_type=sa.Boolean)(query)


def _has(unit: Unit) -> sa.ColumnElement[bool]:
    """The paper holds the word or phrase. One that is all English stopwords ("through") is not
    in the stemmed index at all, so it holds trivially, as it does for FTS5, which keeps them."""
    stemmed, plain = _unit_queries(unit)
    return sa.or_(sa.func.numnode(stemmed) == 0, _matches(stemmed.op("||")(plain)))


def _has_all_words(unit: Unit) -> sa.ColumnElement[bool]:
    """The paper holds every word of a joined word. PostgreSQL's parser reads "Sentinel-2" as
    'sentinel' and '-2', so the phrase FTS5 matches would miss it here."""
    return sa.and_(*(_has((token,)) for token in unit))


def _required(parsed: ParsedQuery, match: Match) -> list[sa.ColumnElement[bool]]:
    """Conditions a paper must meet beyond sharing a word: phrases, exclusions, all-mode words."""
    where = [_has(u) for u in parsed.phrases]
    if match == "all":
        # Every word required, in any of its spellings (#14).
        where += [
            sa.or_(*(_has(a) for a in alternatives(u))) if len(u) == 1 else _has_all_words(u)
            for u in ranking_terms(parsed, "all")
        ]
    if parsed.excluded:
        where.append(sa.not_(_matches(_any_of(parsed.excluded))))
    return where


def _words(parsed: ParsedQuery, match: Match) -> list[str]:
    """The words that rank: loose terms and every word of a phrase, as FTS5 scores them."""
    # Every spelling ranks, as in FTS5's expression (#14).
    units = [alt for unit in ranking_terms(parsed, match) for alt in alternatives(unit)]
    words = [t for unit in (*units, *parsed.phrases) for t in unit]
    return list(dict.fromkeys(words))


def _ranked(
    *,
    conn: Connection,
    idfs: dict[str, float],
    avgdl: float,
    limit: int,
    where: list[sa.ColumnElement[bool]],
    weights: tuple[float, float, float],
) -> list[Hit]:
    """The `limit` best papers by BM25 over these lexemes that meet `where`."""
    w_title, w_abstract, w_authors = (float(w) for w in weights)
    p = _postings.c
    q = (
        sa.func.unnest(
            sa.literal(list(idfs), pg.ARRAY(sa.Text)), sa.literal(list(idfs.values()), pg.ARRAY(sa.Float))
        )
        .table_valued("lexeme", "idf")
        .render_derived(name="q")
    )
    tf = w_title * p.tf_title + w_abstract * p.tf_abstract + w_authors * p.tf_authors
    norm = K1 * (1 - B + B * p.doc_len / avgdl)
    score = sa.func.sum(q.c.idf * tf * (K1 + 1) / (tf + norm)).label("score")
    scored = (
        sa.select(p.paper_pk, score)
        .join_from(_postings, q, q.c.lexeme == p.lexeme)
        .where(tf > 0)
        .group_by(p.paper_pk)
    )
    if not where:
        # Rank inside the postings first and read only the `limit` winners' rows.
        scored = scored.order_by(score.desc(), p.paper_pk).limit(limit)
    ranked = scored.subquery()
    stmt = (
        sa.select(papers.c.id, ranked.c.score)
        .join_from(ranked, papers, papers.c.pk == ranked.c.paper_pk)
        .where(*where)
        .order_by(ranked.c.score.desc(), ranked.c.paper_pk)
        .limit(limit)
    )
    # Ties (equal score) go to the earlier stored paper, so paging is stable.
    return [Hit(paper_id=row.id, score=float(row.score)) for row in conn.execute(stmt)]


def search(
    *,
    conn: Connection,
    parsed: ParsedQuery,
    limit: int,
    filters: Filters,
    weights: tuple[float, float, float],
    match: Match,
) -> list[Hit]:
    """Papers matching the query, best first, scored by BM25 (higher is better)."""
    words = _words(parsed, match)
    if not words or limit <= 0:
        return []
    rows = conn.execute(_LEXEME_STATS, {"terms": words}).all()
    if not rows:
        return []
    docs, total_len = int(rows[0].docs), int(rows[0].total_len)
    idfs = {r.lexeme: idf(docs=docs, df=int(r.df)) for r in rows if r.df}
    if not idfs:
        return []
    where = [*conditions(filters), *_required(parsed, match)]
    avgdl = total_len / max(docs, 1)
    # A word in more than half the papers scores MIN_IDF: it cannot move a paper past one holding a
    # rarer word, yet reading its postings is most of a query's cost. So rank by the rarer words
    # first; only when they find fewer than `limit` papers do the common ones add their matches.
    rare = {lex: v for lex, v in idfs.items() if v > MIN_IDF}
    if rare and len(rare) < len(idfs):
        hits = _ranked(conn=conn, idfs=rare, avgdl=avgdl, limit=limit, where=where, weights=weights)
        if len(hits) >= limit:
            return hits
    return _ranked(conn=conn, idfs=idfs, avgdl=avgdl, limit=limit, where=where, weights=weights)


def holding(*, conn: Connection, parsed: ParsedQuery, paper_ids: Sequence[str]) -> set[str]:
    """Of `paper_ids`, those holding every quoted phrase and none of the excluded words (#14)."""
    where = _required(parsed, "any")
    ids = list(dict.fromkeys(paper_ids))
    if not where:
        return set(ids)
    # PostgreSQL binds any number of ids as one array.
    return set(conn.execute(sa.select(papers.c.id).where(papers.c.id.in_(ids), *where)).scalars())


def _with_ellipses(fragment: str, whole: str) -> str:
    """Mark a cut excerpt with ellipses where it does not reach the text's start or end."""
    plain = fragment.replace(MARK_OPEN, "").replace(MARK_CLOSE, "").strip()
    if not plain:
        return fragment
    head = "" if whole.lstrip().startswith(plain[:40]) else ELLIPSIS
    tail = "" if whole.rstrip().endswith(plain[-40:]) else ELLIPSIS
    return f"{head}{fragment.strip()}{tail}"


def marked(
    *, conn: Connection, parsed: ParsedQuery, paper_ids: Sequence[str], tokens: int
) -> dict[str, tuple[str, str]]:
    """(title, abstract excerpt) of each matching paper, matches wrapped in MARK_OPEN/MARK_CLOSE."""
    units = [*ranking_terms(parsed, "any"), *parsed.phrases]
    if not units or not paper_ids:
        return {}
    tokens = max(tokens, 2)  # ts_headline wants MinWords < MaxWords
    query = _any_of(units)
    marks = f"StartSel={MARK_OPEN}, StopSel={MARK_CLOSE}"
    english: sa.ColumnElement[Any] = sa.literal_column("'english'::regconfig")
    # ts_headline drops whatever its parser takes for an HTML tag ("<b>" in an abstract would
    # vanish), so `<` is swapped for a private-use character on the way in and back on the way out.
    title = sa.func.ts_headline(
        english, sa.func.replace(papers.c.title, "<", _LT), query, f"HighlightAll=true, {marks}"
    )
    excerpt = sa.func.ts_headline(
        english,
        sa.func.replace(papers.c.abstract, "<", _LT),
        query,
        f"MaxFragments=1, MaxWords={tokens}, MinWords={max(1, tokens // 2)}, {marks}",
    )
    ids = list(dict.fromkeys(paper_ids))
    stmt = sa.select(papers.c.id, papers.c.abstract, title.label("title"), excerpt.label("excerpt")).where(
        papers.c.id.in_(ids), _matches(query)
    )
    return {
        row.id: (row.title.replace(_LT, "<"), _with_ellipses(row.excerpt.replace(_LT, "<"), row.abstract))
        for row in conn.execute(stmt)
    }


_INDEX = sa.text("SELECT keyword_index(ARRAY(SELECT pk FROM papers WHERE id = ANY(CAST(:ids AS text[]))))")


def index_new(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """Add newly inserted papers to the postings, one statement for the batch (migration 0008)."""
    conn.execute(_INDEX, {"ids": list(paper_ids)})
