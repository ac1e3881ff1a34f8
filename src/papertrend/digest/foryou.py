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
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.engine import Connection, Engine
from threadpoolctl import ThreadpoolController

from papertrend.db import reading
from papertrend.digest.records import Subscription
from papertrend.library import foryou, keywords, metadata
from papertrend.library import repository as repo
from papertrend.library.models import linear_scores, linear_target
from papertrend.library.recommend import (
    MAX_POSITIVES,
    Background,
    Candidates,
    Matrix,
    recommend,
    trains_linear,
)
from papertrend.library.topics import StemIndex, content_words
from papertrend.search.bm25 import Tokenizer
from papertrend.search.embedder import Embedder, query_text

log = logging.getLogger("papertrend.digest")


class MemoTokenizer(Tokenizer):
    """A tokenizer that keeps each text's stems: a run's windows overlap (12 windows tokenised 36,878
    texts for ~3,000 distinct papers, 10% of a run; #13), and excluded words are matched on the same
    abstracts again for each subscriber."""

    def __init__(self) -> None:
        super().__init__()
        self._texts: dict[str, list[str]] = {}

    def __call__(self, text: str) -> list[str]:
        found = self._texts.get(text)
        if found is None:
            found = self._texts[text] = super().__call__(text)
        return found


@dataclass
class CandidatePool:
    """The candidates of every window of a run, read and prepared once: a window is the pool's
    papers listed since its day. Each of the bench's 12 windows read, tokenised and keyed the authors
    of ~4,000 papers (#13: 30% of a run, cProfile); windows of one run overlap almost entirely."""

    tokenizer: Tokenizer
    since: date | None = None
    # The papers' stems indexed, for every window: which candidates name a topic.
    index: StemIndex = field(default_factory=StemIndex)
    # pk → (day, id, vector, text, authors, categories, stems, stem set, author keys)
    papers: dict[
        int, tuple[date, str, Matrix, str, list[str], list[str], list[str], frozenset[str], list[str]]
    ] = field(default_factory=dict)
    # Their metadata rows (comments and categories) by pk, and those of the run's background and
    # library papers (LibraryRecommender): one matrix for all of them.
    meta: keywords.PaperRows = field(default_factory=keywords.PaperRows)

    # The papers by pk as columns (pks, listing days, vectors, then one list per field of `papers`
    # from the id on), made again only when papers were read: each of 12 windows taking its rows
    # from `papers` one by one was 12% of making them (cProfile).
    _columns: tuple[list[int], Any, Matrix, list[list[Any]]] | None = None
    # Author key → pks of the papers naming them, for every window (keying each window's ~4,000
    # papers again was another 5%).
    authors: dict[str, list[int]] = field(default_factory=dict)

    def candidates(
        self, *, conn: Connection, model: str, dim: int, since: date
    ) -> tuple[Candidates, list[int]]:
        """What `foryou.candidates_since(...).with_stems(tokenizer)` gives, and the candidates' pks."""
        if self.since is None or since < self.since:
            self._read(conn=conn, model=model, dim=dim, since=since, before=self.since)
            self.since = since
        if self._columns is None or len(self._columns[0]) != len(self.papers):
            every = sorted(self.papers)
            held = [self.papers[pk] for pk in every]
            self._columns = (
                every,
                np.asarray([p[0].toordinal() for p in held], dtype=np.int64),
                np.stack([p[2] for p in held]) if held else np.zeros((0, dim), np.float32),
                [[p[i] for p in held] for i in range(len(held[0]))] if held else [[] for _ in range(9)],
            )
        every, days, matrix, columns = self._columns
        chosen = np.flatnonzero(days >= since.toordinal())
        at = chosen.tolist()
        pks = [every[i] for i in at]
        ids, texts, authors, categories, stems, sets, keys = (
            [column[i] for i in at] for column in (columns[j] for j in (1, 3, 4, 5, 6, 7, 8))
        )
        found = Candidates(
            ids=ids,
            vectors=matrix[chosen] if len(at) else np.zeros((0, dim), np.float32),
            texts=texts,
            authors=authors,
            categories=categories,
            stems=stems,
            stem_sets=sets,
            author_keys=keys,
            author_rows=AuthorRows(self.authors, {pk: row for row, pk in enumerate(pks)}),
            named={},
            topic_rows={},
            stem_rows=self.index.rows(pks),
            meta=metadata.Block.of(self.meta.get(pks)) if pks else None,
        )
        return found, pks

    def _read(self, *, conn: Connection, model: str, dim: int, since: date, before: date | None) -> None:
        from papertrend.library.service import author_key

        rows, vecs = foryou.candidate_rows(conn=conn, model=model, dim=dim, since=since, before=before)
        self.meta.ensure({int(r.pk): metadata.text(r.comment, r.categories) for r in rows}, metadata.rows)
        for r, vec in zip(rows, vecs, strict=True):
            text = keywords.text(r.title, r.abstract)
            stems = self.tokenizer(text)
            authors = list(r.authors or [])
            day = r.day if isinstance(r.day, date) else date.fromisoformat(str(r.day))
            held = frozenset(stems)
            self.papers[int(r.pk)] = (
                day, str(r.id), vec, text, authors, list(r.categories or []), stems, held,
                [author_key(a) for a in authors],
            )  # fmt: skip
            self.index.add(int(r.pk), held)
            for key in dict.fromkeys(self.papers[int(r.pk)][8]):
                self.authors.setdefault(key, []).append(int(r.pk))


class AuthorRows(Mapping[str, list[int]]):
    """A window's rows by author key (Candidates.author_rows), from the pool's pks by author key."""

    def __init__(self, pks: dict[str, list[int]], row_of: dict[int, int]) -> None:
        self._pks, self._row_of = pks, row_of

    def __getitem__(self, key: str) -> list[int]:
        rows = sorted(self._row_of[pk] for pk in self._pks[key] if pk in self._row_of)
        if not rows:
            raise KeyError(key)
        return rows

    def __iter__(self) -> Iterator[str]:
        return (key for key in self._pks if any(pk in self._row_of for pk in self._pks[key]))

    def __len__(self) -> int:
        return sum(1 for _ in self)


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
    # Where the keyword vectorizer and papers' keyword rows are kept between runs (the data
    # directory); None: fitted and computed every run.
    cache_dir: Path | None = None
    # The background's random order is drawn from this seed (by default the day, UTC): the runs of
    # a day, and several senders, share one sample and so its kept keyword rows; a fresh sample
    # each run cost ~2,000 new rows, 2 ms of CPU a digest at 1,000 subscribers (#13).
    sample_seed: str | None = field(default_factory=lambda: datetime.now(UTC).date().isoformat())
    _windows: dict[date, foryou.Window] = field(default_factory=dict)
    _vectorizer: Any = None
    _fitted: bool = False
    _rows: keywords.RowStore | None = None
    # One random order of the store for every window's background (foryou.sample_order), and the
    # sampled papers' (id, vector, text, metadata text), read once for all windows.
    _order: list[tuple[int, date]] | None = None
    _order_days: Any = None
    _pool: CandidatePool = field(default_factory=lambda: CandidatePool(MemoTokenizer()))
    _sampled: dict[int, tuple[str, Matrix, str, str]] = field(default_factory=dict)
    # The sampled papers' stems: how much of the store names a topic (recommend.COMMON_TOPIC), as
    # foryou.window gives the page.
    _sampled_stems: dict[int, list[str]] = field(default_factory=dict)
    # And as sets, and indexed (topics.StemIndex): made once per paper, not once per window (12
    # windows made 24,000 sets a run: 4% of compose, cProfile).
    _sampled_sets: dict[int, frozenset[str]] = field(default_factory=dict)
    _sampled_index: StemIndex = field(default_factory=StemIndex)
    # The share of the store naming each topic, found once per run from the first window's
    # background and shared by the others (they share most of their sample): each window finding it
    # again for 400 topics took compose from 9 to 30 ms CPU a digest (bench/digest.py, 1,000).
    _named: dict[str, float] = field(default_factory=dict)
    _topics: dict[str, Matrix] = field(default_factory=dict)
    _tokenizer: Tokenizer = field(default_factory=MemoTokenizer)

    def __post_init__(self) -> None:
        self._pool = CandidatePool(self._tokenizer)

    # Found once: finding the BLAS libraries again for each subscriber cost 1.5 ms.
    _threads: ThreadpoolController = field(default_factory=ThreadpoolController)
    # The accounts of the chunk being composed (`load`): address → Reader, None for no account.
    _readers: dict[str, foryou.Reader | None] = field(default_factory=dict)
    # The chunk's readers' linear-model scores by (email, window), made in `load` one product a
    # window (models.linear_scores) and taken once by `picks`.
    _linear: dict[tuple[str, date], tuple[Matrix, Matrix]] = field(default_factory=dict)

    def window(self, since: date) -> foryou.Window:
        """The window's candidates, a background of older papers and their keyword rows, once per run;
        windows share their papers' stems, keyword rows and most of their background."""
        if since not in self._windows:
            with reading(self.engine) as conn:
                self._windows[since] = self._window(conn, since)
        return self._windows[since]

    def _window(self, conn: Connection, since: date) -> foryou.Window:
        dim = self.embedder.dim
        words = self.vectorizer(conn)
        cands, pks = self._pool.candidates(conn=conn, model=self.embedder.name, dim=dim, since=since)
        if self._order is None:
            self._order = foryou.sample_order(conn=conn, model=self.embedder.name, seed=self.sample_seed)
        if self._order_days is None or len(self._order_days) != len(self._order):
            self._order_days = np.asarray([day.toordinal() for _, day in self._order], dtype=np.int64)
        before = self._order_days < since.toordinal()
        base_pks = [self._order[i][0] for i in np.flatnonzero(before)[: foryou.BACKGROUND]]
        unread = [pk for pk in base_pks if pk not in self._sampled]
        if unread:
            self._sampled.update(
                foryou.background_texts(conn=conn, model=self.embedder.name, dim=dim, paper_pks=unread)
            )
        base_pks = [pk for pk in base_pks if pk in self._sampled]
        held = [self._sampled[pk] for pk in base_pks]
        for pk in base_pks:
            if pk not in self._sampled_stems:
                stems = self._sampled_stems[pk] = self._tokenizer(self._sampled[pk][2])
                self._sampled_sets[pk] = frozenset(stems)
                self._sampled_index.add(pk, self._sampled_sets[pk])
        self._pool.meta.ensure({pk: self._sampled[pk][3] for pk in base_pks}, metadata.rows)
        base = Background(
            vectors=np.stack([h[1] for h in held]) if held else np.zeros((0, dim), np.float32),
            ids=[h[0] for h in held],
            stems=[self._sampled_stems[pk] for pk in base_pks],
            named=self._named,
            stem_sets=[self._sampled_sets[pk] for pk in base_pks],
            stem_rows=self._sampled_index.rows(base_pks),
            meta=metadata.Block.of(self._pool.meta.get(base_pks)) if base_pks else None,
        )
        fitted = words if len(cands.ids) and held else None
        if fitted is not None:
            store = self.row_store(fitted)
            cands = replace(cands, keywords=store.rows(fitted, dict(zip(pks, cands.texts, strict=True))))
            base = replace(base, keywords=store.rows(fitted, {pk: self._sampled[pk][2] for pk in base_pks}))
        # One BLAS thread (see `picks`): the background's covariance and inverse took 0.5 s a window
        # with threads on the busy machine.
        with self._threads.limit(limits=1):
            return foryou.Window(cands, base.prepared(), fitted)

    def row_store(self, vectorizer: Any) -> keywords.RowStore:
        """Papers' keyword rows under this vectorizer, kept in the data directory between runs."""
        if self._rows is None:
            path = self.cache_dir / foryou.KEYWORD_ROWS_FILE if self.cache_dir is not None else None
            self._rows = keywords.RowStore(path, keywords.version(vectorizer))
        return self._rows

    def vectorizer(self, conn: Connection) -> Any:
        """The keyword model's vectorizer, fitted once per run (None with `words` off)."""
        if self.words and not self._fitted:
            cache = self.cache_dir / foryou.KEYWORD_FILE if self.cache_dir is not None else None
            self._vectorizer, self._fitted = foryou.vectorizer(conn=conn, cache=cache), True
        return self._vectorizer

    def library_meta(self, paper_pks: Sequence[int]) -> Any:
        """The metadata rows of these library papers (in this order, papers not stored left out)."""
        unseen = [pk for pk in dict.fromkeys(paper_pks) if pk not in self._pool.meta.index]
        if unseen:
            with reading(self.engine) as conn:
                self._pool.meta.ensure(repo.paper_meta(conn=conn, paper_pks=unseen), metadata.rows)
        return self._pool.meta.get(paper_pks)

    def library_keywords(self, paper_pks: Sequence[int]) -> Any:
        """The keyword rows of these library papers (in this order, papers not stored left out), or None."""
        if self._vectorizer is None:
            return None
        store = self.row_store(self._vectorizer)
        unseen = [pk for pk in dict.fromkeys(paper_pks) if pk not in store.checked]
        if unseen:
            with reading(self.engine) as conn:
                store.ensure(self._vectorizer, repo.paper_texts(conn=conn, paper_pks=unseen))
        mine = [pk for pk in paper_pks if pk in store.checked]
        return store.get(mine) if mine else None

    def prepare(self, topics: Sequence[str]) -> None:
        """Embed every topic of the run at once (one batch beats thousands of single calls)."""
        new = list(dict.fromkeys(t for t in topics if t not in self._topics))
        if new:
            rows = np.asarray(self.embedder.embed([query_text(t) for t in new]), dtype=np.float32)
            self._topics.update(zip(new, rows, strict=True))
            # The stems these topics are named by, listed as papers are read (their content words:
            # stopwords' lists held nearly every paper, 346,000 additions a run).
            stems = set().union(*content_words(new, self._tokenizer))
            self._pool.index.want(stems)
            self._sampled_index.want(stems)

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
            self.window(since)
        self._linear = self._linear_scores(dues)
        pks = [pk for r in found.values() for pk in r.positive_pks[:MAX_POSITIVES]]
        if self._vectorizer is not None:
            if pks:
                self.library_keywords(pks)
                self.library_meta(pks)
            self.row_store(self._vectorizer).save()  # when rows were computed: the next run reads them

    def _linear_scores(
        self, dues: Sequence[tuple[Subscription, date]]
    ) -> dict[tuple[str, date], tuple[Matrix, Matrix]]:
        """The linear-model scores of the loaded readers who will use it, every window's readers in
        one product (models.linear_scores; each reader apart was 0.33 ms of a digest's 3 ms compose)."""
        group: dict[date, dict[str, foryou.Reader]] = {}
        for sub, since in dues:
            key = sub.email.strip().lower()
            reader = self._readers.get(key)
            if reader is None or not sub.prefs.use_library:
                continue
            if trains_linear(method=self.method, positives=min(len(reader.positives), MAX_POSITIVES)):
                group.setdefault(since, {})[key] = reader
        found: dict[tuple[str, date], tuple[Matrix, Matrix]] = {}
        with self._threads.limit(limits=1):
            for since, readers in group.items():
                win = self.window(since)
                targets = np.stack(
                    [
                        linear_target(r.positives[:MAX_POSITIVES], win.background, r.negatives)
                        for r in readers.values()
                    ]
                )
                cand, base = linear_scores(
                    vectors=win.candidates.vectors, background=win.background, targets=targets
                )
                for j, key in enumerate(readers):
                    found[(key, since)] = (cand[:, j], base[:, j])
        return found

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
        rows = meta = None
        if reader is not None and win.vectorizer is not None:
            rows = self.library_keywords(reader.positive_pks[:MAX_POSITIVES])
            meta = self.library_meta(reader.positive_pks[:MAX_POSITIVES])
        profile = foryou.profile_of(
            reader,
            positive_keywords=rows,
            positive_meta=meta,
            dim=self.embedder.dim,
            topics=prefs.topics,
            topic_vectors=topic_vectors,
            exclude=prefs.exclude_keywords,
            categories=prefs.categories,
            sent=frozenset(sent),
        )
        linear = self._linear.pop((key, since), None)
        if linear is not None:
            profile = replace(profile, linear=linear)
        if not prefs.use_library:
            # Library-based recommendations switched off on "Your email" (#13): the saved and
            # upvoted papers stop steering "For you"; topics and followed authors still do.
            profile = replace(
                profile,
                positives=profile.positives[:0],
                positive_titles=[],
                positive_keywords=None,
                positive_meta=None,
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
