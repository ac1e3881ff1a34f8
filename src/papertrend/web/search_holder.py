"""The app's search: the Searcher built on the first search, keyword search when no model loads (#11)."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Literal

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.search import keyword, language
from papertrend.search.service import named_paper, relevant_newest_first
from papertrend.search.suggest import VocabularyHolder
from papertrend.types import Filters, Hit, Mode, Sort

if TYPE_CHECKING:
    from papertrend.search.embedder import Embedder
    from papertrend.search.service import Searcher

log = logging.getLogger("papertrend.web")

VectorState = Literal["cold", "warming", "ready", "unavailable"]

# A web process looks for new vectors at most this often (search/vectors.py says why).
VECTOR_RECHECK_SECONDS = 2.0


class SearchHolder:
    """Builds the Searcher on the first search, so pages that never search never load a model.

    If the model cannot load (not installed, no network for a download), searches fall back to
    keyword mode and say so, instead of failing every search page.
    """

    def __init__(self, *, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self._searcher: Searcher | None = None
        self.unavailable: str | None = None
        # The host's keyword index (search/tantivy_index.py), model or not.
        self.words = keyword.open_index(engine=engine, data_dir=settings.data_dir)
        # "Did you mean" reads the corpus's words from the file the keyword index's writer keeps beside
        # it (search/suggest.py, search/vocabulary.py), model or not (#14, #15).
        self.vocabulary = VocabularyHolder(engine=engine, index=self.words)
        # Guards loading the model, once; searches then run side by side (the vector index
        # serialises its own refreshes).
        self._lock = threading.Lock()
        # The model and vector index, loaded at start by `warm` so no search pays for them (#15):
        # "cold" until asked, then "warming", then "ready" or "unavailable" (no model).
        self.vectors: VectorState = "cold"

    def _get(self) -> Searcher | None:
        if self._searcher is not None or self.unavailable is not None:
            return self._searcher
        with self._lock:
            return self._load()

    def _load(self) -> Searcher | None:
        if self._searcher is None and self.unavailable is None:
            try:
                # Imported here: loading a model is slow, and pages that never search never need one.
                from papertrend.search.embedder import get_embedder
                from papertrend.search.service import searcher_from_settings

                embedder = get_embedder(self.settings.embedding_model, device=self.settings.embedding_device)
                self._searcher = searcher_from_settings(
                    settings=self.settings,
                    engine=self.engine,
                    embedder=embedder,
                    recheck_seconds=VECTOR_RECHECK_SECONDS,
                )
                log.info("search.model_loaded", extra={"model": embedder.name})
            except Exception as exc:  # whatever the model's package raises, pages must keep working
                self.unavailable = f"{type(exc).__name__}: {exc}"
                log.warning("search.model_unavailable", exc_info=exc, extra={"error": self.unavailable})
        return self._searcher

    def search(
        self, *, query: str, mode: Mode, limit: int, filters: Filters, sort: Sort
    ) -> tuple[list[Hit], Mode]:
        """Best-first hits and the mode that produced them (keyword when the model is unavailable).

        A query that is one arXiv id finds that paper alone, whatever the filters, or nothing.
        """
        if mode != "keyword":
            searcher = self._get()
            if searcher is not None:
                return searcher.search(query=query, mode=mode, limit=limit, filters=filters, sort=sort), mode
        # Keyword search needs no model: read it straight from the index.
        depth = max(limit, 100) if sort == "date" else limit
        with reading(self.engine) as conn:
            named = named_paper(conn=conn, query=query)
            if named is not None:
                return named, mode
            hits = keyword.search(conn=conn, query=query, limit=depth, filters=filters)
            if sort == "date":
                hits = relevant_newest_first(conn=conn, query=query, hits=hits, mode="keyword")
        return hits[:limit], "keyword"

    def warm(self) -> None:
        """Load the model, open or build the vector index, map the corpus's word counts ("did you
        mean", written by the keyword writer) and load the language identifier now, before any search
        needs them."""
        self.vectors = "warming"
        searcher = self._get()
        if searcher is not None:
            try:
                with reading(self.engine) as conn:
                    searcher.index.refresh(conn=conn)
            except Exception as exc:  # a search retries the refresh; the page must not fail for this
                log.warning("search.warm_failed", exc_info=exc, extra={"error": str(exc)})
        self.vocabulary.warm()
        language.warm()
        self.vectors = "ready" if searcher is not None else "unavailable"

    def embedder(self) -> Embedder | None:
        """The loaded embedding model, or None when it cannot load ("For you" needs it; #13)."""
        searcher = self._get()
        return searcher.embedder if searcher is not None else None

    def did_you_mean(self, *, query: str) -> str | None:
        """The query with its rare or unknown words corrected from the corpus's words, or None (#14);
        None for a query in another language: the corpus's words are English, so their nearest
        spellings are no corrections ("apprentissage par renforcement" was offered "… par reinforcement")."""
        if language.guess(query) is not None:
            return None
        with reading(self.engine) as conn:
            return self.vocabulary.suggest(conn=conn, query=query)

    def similar(self, *, paper_id: str, limit: int) -> list[Hit]:
        """Papers nearest in meaning; [] when the model is unavailable."""
        searcher = self._get()
        return searcher.similar(paper_id=paper_id, limit=limit) if searcher is not None else []
