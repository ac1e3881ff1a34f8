"""Keyword search: BM25 over title, abstract and authors, from the tantivy index (issues #3, #15).

One engine on SQLite and PostgreSQL alike: the index of search/tantivy_index.py, on disk under the
data dir. How user text is read is search/query.py's business; this module turns a parsed query into
tantivy's query objects — words as term queries, quoted phrases as phrase queries that must match,
exclusions as must-not clauses — so no user text is ever parsed as query syntax.

Ranking is tantivy's BM25 (k1 1.2, b 0.75) over one text field holding the title three times (the
column weights below). SciFact test nDCG@10 0.6915 here against FTS5's column-weighted bm25() 0.692.

Why tantivy on SQLite too, not FTS5 for small installs (measured for #15, docs/search.md): the
74,728-paper listing ingests at 3,420 papers/s against FTS5's 2,858 (load ~3; 28.5 and 26.6 CPU s,
tantivy's share on its own threads); quality is the same; FTS5 needed a per-process in-memory index
to rank common words fast.
One engine keeps one ranking, one query translation and one set of tests.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import sqlalchemy as sa
import tantivy
from sqlalchemy.engine import Connection, Engine

from papertrend.papers import repository
from papertrend.papers.tables import papers
from papertrend.search.keyword_writer import Follower
from papertrend.search.query import (
    MAX_QUERY_CHARS,
    MAX_UNITS,
    STOPWORDS,
    Match,
    ParsedQuery,
    Unit,
    alternatives,
    parse_query,
    ranking_groups,
    ranking_terms,
)
from papertrend.search.tantivy_index import (
    CHECK_EVERY_S,
    PK_SET_MAX,
    TEXT,
    TITLE_REPEATS,
    KeywordIndex,
    SyncReport,
    forms,
    index_dir,
)
from papertrend.search.vectors import allowed_pks
from papertrend.types import Filters, Hit

__all__ = [
    "DEFAULT_MATCH",
    "DEFAULT_WEIGHTS",
    "MAX_QUERY_CHARS",
    "MAX_UNITS",
    "STOPWORDS",
    "Follower",
    "Match",
    "ParsedQuery",
    "changed",
    "following",
    "holding",
    "index_of",
    "open_index",
    "parse_query",
    "search",
    "search_pks",
    "sync",
    "to_tantivy",
]

# Column weights (title, abstract, authors), chosen on SciFact's train split by
# bench/keyword_weights.py: title 3 × abstract 1 scored nDCG@10 0.708 on train (equal weights 0.702)
# and 0.692 on test with FTS5's bm25(). Authors cannot be tuned there (SciFact has none). The index
# bakes them in (tantivy_index.TITLE_REPEATS); the digest's window ranking uses them as weights.
DEFAULT_WEIGHTS: tuple[float, float, float] = (float(TITLE_REPEATS), 1.0, 1.0)
# "all" scored 0.060 on train: a claim's every word is rarely in one abstract.
DEFAULT_MATCH: Match = "any"

_IN_CHUNK = 900
_MUST, _SHOULD = tantivy.Occur.Must, tantivy.Occur.Should
# Open indexes by database URL, the most recent last. A process serves one database; the test suite
# opens one per test, so the oldest are let go (their files unmapped) past this many.
_indexes: OrderedDict[str, KeywordIndex] = OrderedDict()
_KEEP_OPEN = 8
_registry = threading.Lock()


def open_index(
    *, engine: Engine, data_dir: Path | None = None, check_every: float | None = None
) -> KeywordIndex:
    """The keyword index of this engine's database, opened once per process under the data dir
    (default: the settings'); a search syncs it first when papers changed, looking at most every
    `check_every` seconds (default 5; 0 under PAPERTREND_ENV=test, where tests change papers and
    search at once)."""
    key = engine.url.render_as_string(hide_password=True)
    with _registry:
        found = _indexes.get(key)
        if found is None:
            if data_dir is None or check_every is None:
                from papertrend.config import Settings

                settings = Settings()
                data_dir = data_dir or settings.data_dir
                if check_every is None:
                    check_every = 0.0 if settings.env == "test" else CHECK_EVERY_S
            path = index_dir(url=engine.url, data_dir=data_dir)
            found = _indexes[key] = KeywordIndex(path=path, check_every=check_every)
            for old in [k for k, ix in _indexes.items() if not ix.background][:-_KEEP_OPEN]:
                del _indexes[old]
        elif check_every is not None:
            found.check_every = check_every
        _indexes.move_to_end(key)
        return found


def index_of(conn: Connection) -> KeywordIndex:
    """The keyword index of the connection's database."""
    return open_index(engine=conn.engine)


def changed(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """Note papers this process stored or changed: its next sync (before its next search) indexes
    them, whatever time they were stamped with."""
    index_of(conn).pending(paper_ids)


@contextmanager
def following(*, engine: Engine) -> Iterator[Follower]:
    """For an ingest run: `feed` it each committed batch's paper ids; they are indexed on a thread,
    and the index catches up and commits when the block ends."""
    with open_index(engine=engine).following(engine) as follower:
        yield follower


def sync(*, engine: Engine, full: bool = False) -> SyncReport | None:
    """Bring the keyword index up to the database (`full`: rebuild it); None when another process
    of this host holds the writer's lease."""
    return open_index(engine=engine).sync(engine=engine, full=full)


def _stems(index: KeywordIndex, unit: Unit) -> list[str]:
    return [stem for token in unit for stem in index.analyzer.analyze(token)]


def _forms(index: KeywordIndex, token: str) -> list[str]:
    """The stems a loose word is looked up by (tantivy_index.forms)."""
    return forms(index.analyzer, token)


def _should(queries: Sequence[tantivy.Query]) -> tantivy.Query | None:
    if not queries:
        return None
    return queries[0] if len(queries) == 1 else tantivy.Query.boolean_query([(_SHOULD, q) for q in queries])


def _terms(index: KeywordIndex, unit: Unit) -> list[tantivy.Query]:
    """A term query per form of each word of the unit, each scored by BM25 over the paper's text."""
    return [tantivy.Query.term_query(index.schema, TEXT, f) for token in unit for f in _forms(index, token)]


def _one_word(index: KeywordIndex, group: Sequence[Unit]) -> list[tantivy.Query]:
    """Term queries for one word's forms and spellings, each weighted to the idf of them together.

    Each form scored with its own idf let the rarer one win: "optimizer" also looks up "optimiser",
    whose stem "optimis" only British papers hold, so "pretraining optimizer" ranked papers on prompt
    "Optimisation" first on the 80k store (#14). BM25's idf is a factor of the score, so boosting a
    form by idf(together) / idf(its own), the forms' document counts summed, scores each as the word.
    """
    stems = list(dict.fromkeys(f for unit in group for token in unit for f in _forms(index, token)))
    queries = [tantivy.Query.term_query(index.schema, TEXT, s) for s in stems]
    if len(stems) < 2:
        return queries
    searcher = index.searcher()
    total = int(searcher.num_docs)
    counts = [int(searcher.doc_freq(TEXT, s)) for s in stems]
    together = _idf(min(total, sum(counts)), total)
    weighted = zip(queries, counts, strict=True)
    return [tantivy.Query.boost_query(q, together / _idf(n, total)) for q, n in weighted if n]


def _idf(docs: int, total: int) -> float:
    """BM25's idf, as tantivy computes it."""
    return math.log(1.0 + (total - docs + 0.5) / (docs + 0.5))


def _ranking(index: KeywordIndex, unit: Unit) -> tantivy.Query | None:
    """The unit's words as one query (see _terms)."""
    return _should(_terms(index, unit))


def _anywhere(index: KeywordIndex, unit: Unit) -> tantivy.Query | None:
    """Matches papers holding the word, or the phrase within one field; adds nothing to the score."""
    stems = _stems(index, unit)
    if not stems:
        return None
    if len(unit) == 1 and len(stems) == 1:
        found = _should(_terms(index, unit))
        assert found is not None
    elif len(stems) == 1:
        # A phrase whose other words analyse to nothing ("a" + a private-use character): tantivy's
        # phrase query panics on one term, so the one stem is a term query.
        found = tantivy.Query.term_query(index.schema, TEXT, stems[0])
    else:
        words: list[str | tuple[int, str]] = list(stems)
        found = tantivy.Query.phrase_query(index.schema, TEXT, words)
    return tantivy.Query.const_score_query(found, 0.0)


def to_tantivy(index: KeywordIndex, parsed: ParsedQuery, *, match: Match) -> tantivy.Query | None:
    """The tantivy query for a parsed query, or None when it can match nothing."""
    if match not in ("any", "all"):
        raise ValueError(f"unknown match mode {match!r}; use 'any' or 'all'")
    clauses: list[tuple[tantivy.Occur, tantivy.Query | None]] = []
    for phrase in parsed.phrases:
        required = _anywhere(index, phrase)
        if required is not None:
            # Required as written; its words rank like loose words, as FTS5 scored them.
            clauses += [(_MUST, required), (_SHOULD, _ranking(index, phrase))]
    if match == "any":
        # Flat: a boolean query of term queries alone lets tantivy skip papers that cannot reach
        # the top (block-max WAND). With each word's forms nested in a boolean of their own,
        # keyword search at 1M papers (bench/scale.py, limit 100) took p50 88.8 / p95 204 ms at
        # load 12; flat, 13.5 / 34.4 ms at load 9.
        for group in ranking_groups(parsed):
            clauses += [(_SHOULD, q) for q in _one_word(index, group)]
    else:
        for unit in ranking_terms(parsed, match):
            # Every word required, in any of its spellings (#14); a joined word as the phrase it forms.
            ways = alternatives(unit)
            spellings = [_ranking(index, a) if len(a) == 1 else _anywhere(index, a) for a in ways]
            required = _should([q for q in spellings if q is not None])
            if required is not None:
                clauses.append((_MUST, required))
                if len(unit) > 1:
                    clauses.append((_SHOULD, _ranking(index, unit)))
    kept = [(occur, q) for occur, q in clauses if q is not None]
    if not kept:
        return None
    return _excluding(index, parsed, kept)


def _excluding(
    index: KeywordIndex, parsed: ParsedQuery, clauses: list[tuple[tantivy.Occur, tantivy.Query]]
) -> tantivy.Query:
    for unit in parsed.excluded:
        q = _anywhere(index, unit)
        if q is not None:
            clauses.append((tantivy.Occur.MustNot, q))
    return tantivy.Query.boolean_query(clauses)


def _ranked(
    index: KeywordIndex, query: tantivy.Query, *, limit: int, allowed: np.ndarray | None
) -> list[tuple[int, float]]:
    """(pk, score) of the `limit` best documents matching `query` whose pk is allowed, best first."""
    searcher = index.searcher()
    total = int(searcher.num_docs)
    if total == 0:
        return []
    if allowed is not None and allowed.size <= PK_SET_MAX:
        subset = tantivy.Query.term_set_query(index.schema, "pk", allowed.tolist())
        query = tantivy.Query.boolean_query([(tantivy.Occur.Must, query), (tantivy.Occur.Must, subset)])
        allowed = None
    # A wide filter: rank deeper than `limit` in proportion to what it keeps, until enough pass.
    depth = limit if allowed is None else max(limit, int(limit * total / max(allowed.size, 1) * 2))
    while True:
        hits = searcher.search(query, min(depth, total), count=False).hits
        pks = searcher.fast_field_values("pk", [address for _, address in hits]) if hits else []
        found = [(int(pk), float(score)) for (score, _), pk in zip(hits, pks, strict=True) if pk is not None]
        if allowed is not None:
            keep = np.isin(np.asarray([pk for pk, _ in found], dtype=np.int64), allowed)
            found = [f for f, k in zip(found, keep, strict=True) if k]
        if len(found) >= limit or len(hits) < depth or depth >= total:
            break
        depth *= 4
    # Ties (equal score) go to the earlier stored paper, so paging is stable.
    found.sort(key=lambda f: (-f[1], f[0]))
    return found[:limit]


def search(
    *,
    conn: Connection,
    query: str,
    limit: int = 50,
    filters: Filters = Filters(),  # frozen, so one shared default is safe
    match: Match = DEFAULT_MATCH,
) -> list[Hit]:
    """Papers matching `query`, best first, scored by BM25 (higher is better)."""
    ranked = search_pks(conn=conn, query=query, limit=limit, filters=filters, match=match)
    if not ranked:
        return []
    ids = repository.ids_for_pks(conn=conn, pks=[pk for pk, _ in ranked])
    return [Hit(paper_id=ids[pk], score=score) for pk, score in ranked if pk in ids]


def search_pks(
    *,
    conn: Connection,
    query: str,
    limit: int = 50,
    filters: Filters = Filters(),
    match: Match = DEFAULT_MATCH,
) -> list[tuple[int, float]]:
    """`search`'s answer as (paper pk, BM25 score), best first: for a caller that reads other pks too
    and looks their ids up at once (hybrid search, #15)."""
    if match not in ("any", "all"):
        raise ValueError(f"unknown match mode {match!r}; use 'any' or 'all'")
    parsed = parse_query(query)
    if parsed.empty or limit <= 0:
        return []
    index = index_of(conn)
    index.fresh(conn=conn)
    q = to_tantivy(index, parsed, match=match)
    if q is None:
        return []
    return _ranked(index, q, limit=limit, allowed=allowed_pks(conn=conn, filters=filters))


def _pks_of(conn: Connection, paper_ids: Sequence[str]) -> dict[int, str]:
    found: dict[int, str] = {}
    for start in range(0, len(paper_ids), _IN_CHUNK):
        stmt = sa.select(papers.c.pk, papers.c.id).where(
            papers.c.id.in_(paper_ids[start : start + _IN_CHUNK])
        )
        found.update((int(pk), pid) for pk, pid in conn.execute(stmt))
    return found


def holding(*, conn: Connection, query: str, paper_ids: Sequence[str], every_word: bool = False) -> list[str]:
    """The papers, in order, that hold every quoted phrase of `query` and none of its excluded words
    or phrases: what search by meaning must keep too, in every sort and feed (#14). With `every_word`,
    only those holding every one of its words too (in any form or spelling, as match "all" asks)."""
    parsed = parse_query(query)
    if not every_word and not parsed.phrases and not parsed.excluded:
        return list(paper_ids)
    ids = list(dict.fromkeys(paper_ids))
    by_pk = _pks_of(conn, ids)
    if not by_pk:
        return []
    index = index_of(conn)
    index.fresh(conn=conn)
    subset = tantivy.Query.term_set_query(index.schema, "pk", list(by_pk))
    clauses = [(tantivy.Occur.Must, subset)]
    if every_word:
        required = to_tantivy(index, parsed, match="all")  # phrases and exclusions included
        if required is None:
            return []
        wanted = tantivy.Query.boolean_query([*clauses, (_MUST, required)])
    else:
        clauses += [(_MUST, q) for q in (_anywhere(index, u) for u in parsed.phrases) if q is not None]
        wanted = _excluding(index, parsed, clauses)
    ranked = _ranked(index, wanted, limit=len(by_pk), allowed=None)
    kept = {by_pk[pk] for pk, _ in ranked}
    return [pid for pid in paper_ids if pid in kept]
