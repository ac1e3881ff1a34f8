"""One entry point for every search: keyword, semantic, hybrid, and "similar papers" (issue #3).

A `Searcher` holds what is worth keeping between queries in one process — the embedding model and
the vector index — and nothing else; each call gets its own read connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import Connection, Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.papers import repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.search import hybrid, keyword, vectors
from papertrend.search.embedder import Embedder, query_text
from papertrend.search.index import open_index
from papertrend.search.language import guess
from papertrend.search.query import query_shape, typed_paper_id
from papertrend.search.vectors import F32
from papertrend.types import Filters, Hit, Mode, Sort


@dataclass(frozen=True, slots=True)
class Tuning:
    """How keyword and semantic rankings are fused."""

    fusion: hybrid.Fusion = "rrf"
    keyword_weight: float = 1.0
    semantic_weight: float = 1.0
    rrf_k: float = 60.0
    # How deep each list is read before fusing: deeper finds more, costs more.
    candidates: int = 100
    # The semantic weight for a query that is a short list of terms (query.query_shape), None for the
    # same as a sentence's. Convex weights only.
    terms_semantic_weight: float | None = None
    # How the keyword list's scores are normalised before a convex fusion (hybrid.Norm).
    keyword_norm: hybrid.Norm = "minmax"

    def weights_for(self, query: str) -> list[float]:
        """[keyword weight, semantic weight] for this query's shape (#14)."""
        if self.terms_semantic_weight is not None and query_shape(query) == "terms":
            return [1.0 - self.terms_semantic_weight, self.terms_semantic_weight]
        return [self.keyword_weight, self.semantic_weight]


# Chosen on SciFact's train split by bench/quality.py: convex 0.5/0.5 over the keyword scores
# divided by the best and the semantic scores min-max normalised, every keyword hit with its exact
# cosine (#14), scored nDCG@10 0.743 on train and 0.742 on test, against 0.735 for the former
# min-max 0.55/0.45 without exact cosines, BM25 alone 0.693 and MiniLM alone 0.645 (docs/search.md).
# A short list of terms (query.query_shape) is ranked by its words, and papers found only by meaning
# follow: on the tuning half of bench/fusion.py's title-word queries, every semantic weight from 0.01
# up moved some queries down as often as up (the paired lower bound of its gain was below 0), and on
# the held-out half 0.05 scored nDCG@10 0.907 against keyword alone 0.911.
DEFAULT_TUNING = Tuning(
    fusion="convex", keyword_weight=0.5, semantic_weight=0.5, terms_semantic_weight=0.0, keyword_norm="max"
)


# The date sort orders only hits scoring at least this fraction of the best hit's score (#14): sorting
# all 100 candidates by date put 2 of 10 on topic first for "mixture of experts routing". Calibrated
# by bench/floor.py on SciFact's train split: the relative score that keeps 90% of the relevant
# abstracts found in the top 100. On test these keep 92% / 90% / 89% of them (keyword / semantic /
# hybrid) and 16 / 20 / 13 of the 100 candidates on average (docs/search.md).
RELEVANCE_FLOOR: dict[Mode, float] = {"keyword": 0.535, "semantic": 0.736, "hybrid": 0.309}


def above_floor(*, hits: Sequence[Hit], mode: Mode) -> list[Hit]:
    """The best-first hits that reach the mode's relevance floor."""
    if not hits or hits[0].score <= 0:
        return list(hits)
    floor = RELEVANCE_FLOOR[mode] * hits[0].score
    return [h for h in hits if h.score >= floor]


# When at least this many candidates hold every word of the query (a page of results), the date
# sort keeps just those, not the floor's (#14). On a large store the floor, calibrated on SciFact's
# 5k abstracts, kept nearly all of a short query's 100-200 candidates (nearly every one scores within
# it of the best), so "reinforcement learning from human feedback" newest first showed 1 paper about
# it in 10. Over 40 typed topic queries on the 85k store (bench/newest.py, MiniLM, each of the 10
# newest judged by a pattern naming the topic; nothing tuned on them), hybrid 0.760 of the 10 newest
# on topic with the floor, 0.890 with this rule. No SciFact claim has 10 abstracts of the whole
# corpus holding all of its words (a claim paraphrases its evidence), so claims keep the floor.
EVERY_WORD_MIN = 10


def relevant(*, conn: Connection, query: str, hits: Sequence[Hit], mode: Mode) -> list[Hit]:
    """The best-first hits the date sort keeps: those holding every word of the query when a page of
    them do (not by meaning alone, which is asked not to match words), else those above the floor."""
    if mode != "semantic" and len(hits) >= EVERY_WORD_MIN:
        ids = [h.paper_id for h in hits]
        every = set(keyword.holding(conn=conn, query=query, paper_ids=ids, every_word=True))
        if len(every) >= EVERY_WORD_MIN:
            return [h for h in hits if h.paper_id in every]
    return above_floor(hits=hits, mode=mode)


def relevant_newest_first(*, conn: Connection, query: str, hits: Sequence[Hit], mode: Mode) -> list[Hit]:
    """The relevant hits (`relevant`), newest first: the one date sort of search (#14)."""
    return newest_first(conn=conn, hits=relevant(conn=conn, query=query, hits=hits, mode=mode))


def _sharing_words(by_meaning: Sequence[Hit], by_words: Sequence[Hit]) -> list[Hit]:
    # A query in another language: MiniLM places it near papers in that language whatever their
    # subject, so only papers that also share a word with it are kept (#14, search/language.py).
    found = {h.paper_id for h in by_words}
    return [h for h in by_meaning if h.paper_id in found]


def named_paper(*, conn: Connection, query: str) -> list[Hit] | None:
    """For a query that is one arXiv id: that paper alone, whatever the filters, or [] when it is not
    stored; None for any other query."""
    paper_id = typed_paper_id(query)
    if paper_id is None:
        return None
    return [Hit(paper_id, 1.0)] if repository.pk_of(conn=conn, paper_id=paper_id) is not None else []


def newest_first(*, conn: Connection, hits: Sequence[Hit]) -> list[Hit]:
    """The same hits, newest first (relevance breaks ties)."""
    if not hits:
        return []
    days = {
        pid: str(d or "")
        for pid, d in repository.listing_days(conn=conn, paper_ids=[h.paper_id for h in hits]).items()
    }
    order = {h.paper_id: i for i, h in enumerate(hits)}
    return sorted(hits, key=lambda h: (days.get(h.paper_id, ""), -order[h.paper_id]), reverse=True)


class Searcher:
    """Searches one database with one embedding model."""

    def __init__(
        self,
        *,
        engine: Engine,
        embedder: Embedder,
        index_dir: Path,
        ann_threshold: int = 50_000,
        tuning: Tuning = DEFAULT_TUNING,
        recheck_seconds: float = 0.0,
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.tuning = tuning
        # Shared by all requests of the process; query embeddings are short (one text each).
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="embed-query")
        self.index = open_index(
            dialect=engine.dialect.name,
            model=embedder.name,
            dim=embedder.dim,
            index_dir=index_dir,
            ann_threshold=ann_threshold,
            recheck_seconds=recheck_seconds,
        )

    def embed_query(self, query: str) -> F32:
        """The query's vector in the embedder's space."""
        vector: F32 = self.embedder.embed([query_text(query)])[0]
        return vector

    def nearest(
        self, *, conn: Connection, vector: F32, limit: int, filters: Filters = Filters()
    ) -> list[Hit]:
        """Papers nearest to a query vector."""
        found = self.index.search(conn=conn, query=vector, k=limit, filters=filters)
        ids = repository.ids_for_pks(conn=conn, pks=[pk for pk, _ in found])
        return [Hit(ids[pk], score) for pk, score in found if pk in ids]

    def completed(
        self, *, conn: Connection, vector: F32, by_meaning: Sequence[Hit], by_words: Sequence[Hit]
    ) -> list[Hit]:
        """The semantic hits plus every keyword hit they lack, at its exact cosine (#14)."""
        # A keyword hit outside the semantic top 100 used to get 0 there; its true cosine lifted
        # SciFact test nDCG@10 0.735 → 0.742 (bench/fusion.py).
        have = {h.paper_id for h in by_meaning}
        missing = [h.paper_id for h in by_words if h.paper_id not in have]
        if not missing:
            return list(by_meaning)
        ids = vectors.pks_of(conn=conn, paper_ids=missing)
        found = self.index.similarities(conn=conn, query=vector, pks=list(ids))
        return hybrid.completed(by_meaning, {ids[pk]: score for pk, score in found})

    def semantic(
        self, *, conn: Connection, query: str, limit: int, filters: Filters = Filters()
    ) -> list[Hit]:
        """Papers nearest in meaning to the query text."""
        return self.nearest(conn=conn, vector=self.embed_query(query), limit=limit, filters=filters)

    def search(
        self,
        *,
        query: str,
        mode: Mode = "hybrid",
        limit: int = 20,
        filters: Filters = Filters(),
        sort: Sort = "relevance",
    ) -> list[Hit]:
        """Best-first hits for a user's query; `sort="date"` orders the relevant ones newest first."""
        depth = max(limit, self.tuning.candidates)
        with reading(self.engine) as conn:
            named = named_paper(conn=conn, query=query)
            if named is not None:
                return named
            if mode == "keyword":
                hits = keyword.search(conn=conn, query=query, limit=depth, filters=filters)
            elif mode == "semantic":
                found = self.semantic(conn=conn, query=query, limit=depth, filters=filters)
                hits = self._holding(conn, query, found)
                if guess(query) is not None:
                    words = keyword.search(conn=conn, query=query, limit=depth, filters=filters)
                    hits = _sharing_words(hits, words)
            else:
                hits = self._hybrid(conn, query, depth, filters)
            if sort == "date":
                hits = relevant_newest_first(conn=conn, query=query, hits=hits, mode=mode)
        return hits[:limit]

    def _hybrid(self, conn: Connection, query: str, depth: int, filters: Filters) -> list[Hit]:
        # The query is embedded on another thread while the keyword search runs: both release the
        # GIL (onnxruntime, tantivy), so on two cores a hybrid query costs about the longer of the two
        # rather than their sum.
        vector = self._pool.submit(self.embed_query, query)
        by_words_pks = keyword.search_pks(conn=conn, query=query, limit=depth, filters=filters)
        qvec = vector.result()
        found = self.index.search(conn=conn, query=qvec, k=depth, filters=filters)
        # Both lists' ids in one query, and the keyword hits' pks kept for their exact cosines: three
        # lookups (keyword ids, semantic ids, keyword pks) cost 2.6 ms CPU of a 9.2 ms search at 80k.
        ids = repository.ids_for_pks(conn=conn, pks=[pk for pk, _ in (*by_words_pks, *found)])
        by_words = [Hit(ids[pk], score) for pk, score in by_words_pks if pk in ids]
        by_meaning = self._holding(conn, query, [Hit(ids[pk], score) for pk, score in found if pk in ids])
        if guess(query) is not None:
            by_meaning = _sharing_words(by_meaning, by_words)
        have = {h.paper_id for h in by_meaning}
        missing = [pk for pk, _ in by_words_pks if pk in ids and ids[pk] not in have]
        exact = self.index.similarities(conn=conn, query=qvec, pks=missing) if missing else []
        lists = [by_words, hybrid.completed(by_meaning, {ids[pk]: score for pk, score in exact})]
        return hybrid.fuse(
            lists,
            fusion=self.tuning.fusion,
            weights=self.tuning.weights_for(query),
            rrf_k=self.tuning.rrf_k,
            norms=[self.tuning.keyword_norm, "minmax"],
        )

    @staticmethod
    def _holding(conn: Connection, query: str, hits: list[Hit]) -> list[Hit]:
        # Quoted phrases and exclusions bind papers found by meaning too, in every sort (#14): 3 of
        # the 10 newest for '"test-time scaling"' lacked the phrase.
        kept = set(keyword.holding(conn=conn, query=query, paper_ids=[h.paper_id for h in hits]))
        return [h for h in hits if h.paper_id in kept]

    def similar(self, *, paper_id: str, limit: int = 10, filters: Filters = Filters()) -> list[Hit]:
        """The papers nearest in meaning to one paper (itself excluded); [] until it has a vector."""
        key = parse_arxiv_id(paper_id).key
        with reading(self.engine) as conn:
            pk = repository.pk_of(conn=conn, paper_id=key)
            if pk is None:
                return []
            vec = self.index.vector_of(conn=conn, paper_pk=int(pk))
            if vec is None:
                return []
            found = self.index.search(conn=conn, query=vec, k=limit + 1, filters=filters)
            ids = repository.ids_for_pks(conn=conn, pks=[p for p, _ in found if p != pk])
        return [Hit(ids[p], score) for p, score in found if p != pk and p in ids][:limit]


def searcher_from_settings(
    *,
    settings: Settings,
    engine: Engine,
    embedder: Embedder,
    recheck_seconds: float = 0.0,
) -> Searcher:
    """The Searcher the settings describe: the one place the CLI, the web and the digest build it (#11)."""
    keyword.open_index(engine=engine, data_dir=settings.data_dir)
    return Searcher(
        engine=engine,
        embedder=embedder,
        index_dir=settings.data_dir / "index",
        ann_threshold=settings.ann_threshold,
        recheck_seconds=recheck_seconds,
    )
