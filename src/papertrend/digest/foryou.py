"""The digest's "For you" from the reader's library (issue #13).

A subscriber who has signed in with the same address brings their library (saved + upvoted papers),
"not interested" clicks and followed authors; every subscriber brings their topics. All of it is
ranked by library/recommend.py over the edition's window with a calibrated floor: a slot is filled
only by a paper that clears it, each with its reason ("like …", "matches …", "by …").

What subscribers share is computed once per run: each window's candidates and background sample,
and each topic's vector. Per subscriber there are a few indexed reads and a few array operations.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection, Engine
from threadpoolctl import ThreadpoolController

from papertrend.db import reading
from papertrend.digest.records import Subscription
from papertrend.library import foryou
from papertrend.library import repository as repo
from papertrend.library.recommend import MAX_POSITIVES, Matrix, recommend
from papertrend.search.bm25 import Tokenizer
from papertrend.search.embedder import Embedder, query_text

log = logging.getLogger("papertrend.digest")


@dataclass
class LibraryRecommender:
    """Picks for "For you": (paper id, reason) pairs above the calibrated floor, best first."""

    engine: Engine
    embedder: Embedder
    # recommend.library_scores' method: "auto" uses the per-reader models from 8 saved papers on
    # (closed forms, bench/recommend.py); "nearest" only the nearest saved paper.
    method: str = "auto"
    # The keyword half of the library model (TF-IDF fitted per window); off, the vectors alone rank.
    words: bool = True
    # Where the keyword vectorizer is kept between runs (the data directory); None: fitted every run.
    cache_dir: Path | None = None
    _windows: dict[date, foryou.Window] = field(default_factory=dict)
    _vectorizer: Any = None
    _fitted: bool = False
    _topics: dict[str, Matrix] = field(default_factory=dict)
    _tokenizer: Tokenizer = field(default_factory=Tokenizer)
    # Found once: finding the BLAS libraries again for each subscriber cost 1.5 ms.
    _threads: ThreadpoolController = field(default_factory=ThreadpoolController)
    # The accounts of the chunk being composed (`load`): address → Reader, None for no account.
    _readers: dict[str, foryou.Reader | None] = field(default_factory=dict)

    def window(self, since: date) -> foryou.Window:
        """The window's candidates, a background of older papers and its keyword model, once per run."""
        if since not in self._windows:
            with reading(self.engine) as conn:
                self._windows[since] = foryou.window(
                    conn=conn,
                    model=self.embedder.name,
                    dim=self.embedder.dim,
                    since=since,
                    tokenizer=self._tokenizer,
                    words=self.vectorizer(conn),
                )
        return self._windows[since]

    def vectorizer(self, conn: Connection) -> Any:
        """The keyword model's vectorizer, fitted once per run (None with `words` off)."""
        if self.words and not self._fitted:
            cache = self.cache_dir / foryou.KEYWORD_FILE if self.cache_dir is not None else None
            self._vectorizer, self._fitted = foryou.vectorizer(conn=conn, cache=cache), True
        return self._vectorizer

    def prepare(self, topics: Sequence[str]) -> None:
        """Embed every topic of the run at once (one batch beats thousands of single calls)."""
        new = list(dict.fromkeys(t for t in topics if t not in self._topics))
        if new:
            rows = np.asarray(self.embedder.embed([query_text(t) for t in new]), dtype=np.float32)
            self._topics.update(zip(new, rows, strict=True))

    def load(self, dues: Sequence[tuple[Subscription, date]]) -> None:
        """Read the accounts of a chunk of (subscriber, window start) in a few queries (not ~7 per
        subscriber), and the keyword rows of their libraries' papers in one go per window."""
        emails = [sub.email.strip().lower() for sub, _ in dues]
        with reading(self.engine) as conn:
            users = repo.user_ids_for_emails(conn=conn, emails=emails)
            found = foryou.readers(
                conn=conn, user_ids=list(users.values()), model=self.embedder.name, dim=self.embedder.dim
            )
        self._readers = {e: found.get(users[e]) if e in users else None for e in emails}
        for since in dict.fromkeys(since for _, since in dues):
            win = self.window(since)
            pks = [pk for r in found.values() for pk in r.positive_pks[:MAX_POSITIVES]]
            if win.vectorizer is not None and pks:
                with reading(self.engine) as conn:
                    win.library_keywords(conn=conn, paper_pks=pks)

    def picks(
        self, *, sub: Subscription, since: date, sent: frozenset[str] | set[str], limit: int
    ) -> list[tuple[str, str]]:
        """The subscriber's picks among papers listed since `since`, never a sent one."""
        win = self.window(since)
        if not len(win.candidates.ids):
            return []
        prefs = sub.prefs
        self.prepare(prefs.topics)
        topic_vectors = np.stack([self._topics[t] for t in prefs.topics]) if prefs.topics else None
        key = sub.email.strip().lower()
        if key not in self._readers:
            self.load([(sub, since)])
        reader = self._readers[key]
        rows = None
        if reader is not None:
            pks = reader.positive_pks[:MAX_POSITIVES]
            if win.missing(pks):
                with reading(self.engine) as conn:
                    rows = win.library_keywords(conn=conn, paper_pks=pks)
            else:  # `load` read them for the chunk
                rows = win.library_keywords(conn=None, paper_pks=pks)
        profile = foryou.profile_of(
            reader,
            positive_keywords=rows,
            dim=self.embedder.dim,
            topics=prefs.topics,
            topic_vectors=topic_vectors,
            exclude=prefs.exclude_keywords,
            categories=prefs.categories,
            sent=frozenset(sent),
        )
        if not prefs.use_library:
            # Library-based recommendations switched off on "Your email" (#13): the saved and
            # upvoted papers stop steering "For you"; topics and followed authors still do.
            profile = replace(
                profile, positives=profile.positives[:0], positive_titles=[], positive_keywords=None
            )
        if not len(profile.positives) and not profile.topics and not profile.authors:
            return []
        # One BLAS thread: a subscriber's matrices are small (a window × 50 saved papers), and on 2
        # cores threads cost more than they save (bench/digest.py: compose CPU above its wall time).
        with self._threads.limit(limits=1):
            found = recommend(
                candidates=win.candidates,
                profile=profile,
                background=win.background,
                limit=limit,
                tokenizer=self._tokenizer,
                method=self.method,
            )
        return [(p.paper_id, p.reason) for p in found]
