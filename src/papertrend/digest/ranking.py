"""Rankers of "For you": a topic to the new papers best matching it (issue #5).

`WindowRanker` ranks over the new papers in memory (words by search/bm25.py's BM25, meaning by the
stored vectors); `keyword_ranker` uses keyword search; `make_ranker` picks one for a run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date
from typing import Any, Literal

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest import repository
from papertrend.digest.compose import Ranker
from papertrend.search import bm25, hybrid, keyword
from papertrend.search.embedder import Embedder, query_text
from papertrend.search.keyword import STOPWORDS
from papertrend.types import Filters, Hit

log = logging.getLogger("papertrend.digest")


# Titles weigh as keyword search weighs them (search/keyword.py DEFAULT_WEIGHTS); authors are not
# matched against topics.
WEIGHTS = (3.0, 1.0, 0.0)


class WindowRanker:
    """Hybrid ranking of a topic over the papers listed since a day: the digest's "For you".

    The same two signals as hybrid search — words (search/bm25.py's BM25 and tokenizer, titles
    weighted as keyword search weighs them) and meaning (the stored vectors of `embedder`'s model),
    fused by reciprocal rank — but over the new papers only, held in memory: a day of arXiv is a few
    thousand papers, so a topic costs one embedding and a few small array operations instead of a
    search of the whole store. That is what lets every subscriber's own topics be ranked for 10,000
    subscribers in seconds.

    Papers are read and tokenised once per run, back to the earliest day asked for; each window
    (`since`) gets postings of its own papers, so its BM25 statistics are those of the window.
    """

    def __init__(
        self, *, engine: Engine, embedder: Embedder | None, lexical: bool = True, rrf_k: float = 60.0
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.use_lexical = lexical
        self.rrf_k = rrf_k
        self._tokenizer = bm25.Tokenizer()
        self._floor: date | None = None
        self._ids: list[str] = []
        self._days: list[int] = []  # ordinal of each paper's day
        self._docs: list[tuple[dict[str, float], int]] = []  # each paper's stems and length
        self._postings: dict[date, bm25.Postings] = {}
        self._blobs: list[bytes] = []
        self._vector_docs: list[int] = []
        self._arrays: dict[str, Any] = {}  # numpy views built after each load
        self._masks: dict[date, Any] = {}
        self._queries: dict[str, Any] = {}
        self._prepared: list[str] = []

    def _load(self, since: date) -> None:
        """Read the papers listed in [since, current floor) and add them to the corpus."""
        import numpy as np

        from papertrend.search.vectors import from_blobs

        model = self.embedder.name if self.embedder is not None else None
        with reading(self.engine) as conn:
            rows, vectors = repository.window_papers(conn=conn, since=since, before=self._floor, model=model)
        first = len(self._ids)
        index = {int(r[0]): first + i for i, r in enumerate(rows)}
        for pk, blob in vectors:
            if pk in index:
                self._vector_docs.append(index[pk])
                self._blobs.append(blob)
        for _, pid, title, abstract, listed in rows:
            fields = ((title or "", WEIGHTS[0]), (abstract or "", WEIGHTS[1]))
            self._docs.append(bm25.document(self._tokenizer, fields))
            self._ids.append(str(pid))
            self._days.append(repository.as_day(listed).toordinal() if listed is not None else 0)
        self._floor = since
        self._arrays = {
            "days": np.asarray(self._days, dtype=np.int64),
            "vector_docs": np.asarray(self._vector_docs, dtype=np.int64),
        }
        if self.embedder is not None:
            self._arrays["vectors"] = from_blobs(self._blobs, self.embedder.dim)
        self._postings = {}
        self._masks = {}

    def _window(self, since: date) -> bm25.Postings:
        """BM25 postings of the papers listed since `since` (doc numbers are indexes into `_ids`)."""
        found = self._postings.get(since)
        if found is None:
            start = since.toordinal()
            docs = (
                (i, freq, length)
                for i, ((freq, length), day) in enumerate(zip(self._docs, self._days, strict=True))
                if day >= start
            )
            found = self._postings[since] = bm25.postings_of(
                docs, signature=bm25.Signature(len(self._ids), f"window {since}"), weights=WEIGHTS
            )
        return found

    def words(self, topic: str, since: date, depth: int) -> list[Hit]:
        """The word ranking alone: BM25 over the window's papers, best first."""
        if self._floor is None or since < self._floor:
            self._load(since)
        postings = self._window(since)
        if not len(postings.pks):
            return []
        # Topic phrases ("models for text") carry words that match everything: left out, as keyword
        # search leaves them out of its queries.
        words = [w for w in self._tokenizer.words(topic) if w not in STOPWORDS]
        stems = list(dict.fromkeys(self._tokenizer.stems(words)))
        best = bm25.top(postings, stems=stems, excluded=(), limit=depth, allowed=None)
        return [Hit(self._ids[doc], score) for doc, score in best]

    def prepare(self, topics: Sequence[str]) -> None:
        """Embed the topics a run will ask for in one batch (one model call, then one matrix product
        per window instead of one per topic)."""
        if self.embedder is None:
            return
        todo = [t for t in dict.fromkeys(topics) if t not in self._queries]
        if todo:
            for topic, vector in zip(todo, self.embedder.embed([query_text(t) for t in todo]), strict=True):
                self._queries[topic] = vector
        self._prepared = list(self._queries)

    def _semantic(self, topic: str, since: date, depth: int) -> list[Hit]:
        import numpy as np

        assert self.embedder is not None
        window = self._masks.get(since)
        if window is None:
            rows = np.nonzero(self._arrays["days"][self._arrays["vector_docs"]] >= since.toordinal())[0]
            window = self._masks[since] = {"rows": rows, "matrix": self._arrays["vectors"][rows]}
            if self._prepared and len(rows):
                # All prepared topics against the window at once: one BLAS call, not hundreds.
                queries = np.stack([self._queries[t] for t in self._prepared])
                window["scores"] = window["matrix"] @ queries.T
                window["columns"] = {t: i for i, t in enumerate(self._prepared)}
        rows = window["rows"]
        if not len(rows):
            return []
        column = window.get("columns", {}).get(topic)
        if column is not None:
            sims = window["scores"][:, column]
        else:
            query = self._queries.get(topic)
            if query is None:
                query = self._queries[topic] = self.embedder.embed([query_text(topic)])[0]
            sims = window["matrix"] @ query
        docs = self._arrays["vector_docs"][rows]
        order = np.argsort(-sims, kind="stable")[:depth]
        return [Hit(self._ids[int(docs[i])], float(sims[i])) for i in order]

    def __call__(self, topic: str, since: date, limit: int) -> list[Hit]:
        """The papers listed since `since` best matching the topic."""
        if self._floor is None or since < self._floor:
            self._load(since)
        depth = max(limit, 50)
        lists = []
        if self.use_lexical:
            lists.append(self.words(topic, since, depth))
        if self.embedder is not None:
            lists.append(self._semantic(topic, since, depth))
        return hybrid.fuse(lists, fusion="rrf", rrf_k=self.rrf_k)[:limit]


def keyword_ranker(engine: Engine) -> Ranker:
    """A ranker by keyword search alone: no model needed (tests, and a fallback)."""

    def rank(topic: str, since: date, limit: int) -> list[Hit]:
        with reading(engine) as conn:
            return keyword.search(conn=conn, query=topic, limit=limit, filters=Filters(since=since))

    return rank


RankerMode = Literal["hybrid", "semantic", "keyword", "searcher"]


def load_embedder(settings: Settings) -> Embedder | None:
    """The configured embedding model, or None (logged) when it cannot load: mail goes out anyway."""
    try:
        # Imported here: loading a model is slow, and keyword runs never need one.
        from papertrend.search.embedder import get_embedder

        return get_embedder(settings.embedding_model, device=settings.embedding_device)
    except Exception as exc:  # whatever the model's package raises
        log.warning("digest.model_unavailable: ranking topics by words alone", extra={"error": str(exc)})
        return None


def make_ranker(
    settings: Settings, engine: Engine, *, mode: RankerMode = "hybrid", embedder: Embedder | None = None
) -> Ranker:
    """The "For you" ranker of one run: `hybrid` (default) and `semantic` rank the new papers in
    memory (WindowRanker), `keyword` uses keyword search, `searcher` the full hybrid Searcher.

    Pass `embedder` to reuse a loaded model; without a loadable one, ranking falls back to words.
    """
    if mode == "keyword":
        return keyword_ranker(engine)
    model = embedder or load_embedder(settings)
    if model is None:
        return WindowRanker(engine=engine, embedder=None) if mode != "searcher" else keyword_ranker(engine)
    if mode != "searcher":
        return WindowRanker(engine=engine, embedder=model, lexical=mode == "hybrid")
    from papertrend.search.service import searcher_from_settings

    searcher = searcher_from_settings(settings=settings, engine=engine, embedder=model)

    def rank(topic: str, since: date, limit: int) -> list[Hit]:
        return searcher.search(query=topic, mode="hybrid", limit=limit, filters=Filters(since=since))

    return rank
