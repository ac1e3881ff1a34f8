"""A reader's "For you" from the database (issue #13): reads the library, feedback, followed authors
and stored vectors, and hands them to the pure ranking in recommend.py. The caller owns the
connection; nothing is written.

`window` reads what every reader of a window shares, once: the candidates, a background sample,
and a TF-IDF vectorizer (library/keywords.py) fitted on both, with their keyword rows; a library
paper's row is computed the first time a reader needs it and kept with the window.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from threadpoolctl import ThreadpoolController

from papertrend.library import keywords, metadata, service
from papertrend.library import repository as repo
from papertrend.library.recommend import (
    MAX_POSITIVES,
    Background,
    Candidates,
    Matrix,
    Pick,
    Profile,
    recommend,
)
from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers
from papertrend.search import vectors
from papertrend.search.bm25 import Tokenizer
from papertrend.search.tables import embeddings

BACKGROUND = 2_000
# Found once: finding the BLAS libraries costs 1.5 ms a call.
_THREADS = ThreadpoolController()
# The keyword model's IDF and vocabulary come from this many random stored papers. Fitted on the
# window and background alone (~4,000 papers) the keyword model fell from Recall@20 0.142 to 0.099
# on tuning readers (bench/recommend.py): rare and specific terms need a store-sized sample.
KEYWORD_SAMPLE = 20_000
# A kept vectorizer is refitted once the store has grown by this share.
KEYWORD_REFIT = 0.1
# Where a data directory keeps it.
KEYWORD_FILE = "foryou-keywords.npz"
# And the papers' keyword rows under it (keywords.RowStore).
KEYWORD_ROWS_FILE = "foryou-keyword-rows.npz"


# What a background sample reads of each paper: its vector, id, text and metadata.
_SAMPLED = (
    embeddings.c.paper_pk, embeddings.c.vector, papers.c.id, papers.c.title, papers.c.abstract,
    papers.c.comment, papers.c.categories,
)  # fmt: skip


def background(
    *, conn: Connection, model: str, dim: int, before: date, skip: Sequence[int] = (), size: int = BACKGROUND
) -> Background:
    """Vectors of up to `size` random papers listed before `before` (older than the candidates) and
    not in `skip` (the reader's own papers): the yardstick of every score."""
    return _background(conn=conn, model=model, dim=dim, before=before, skip=skip, size=size)[0]


def _background(
    *, conn: Connection, model: str, dim: int, before: date, skip: Sequence[int] = (), size: int = BACKGROUND
) -> tuple[Background, list[str]]:
    stmt = (
        sa.select(*_SAMPLED)
        .join(papers, papers.c.pk == embeddings.c.paper_pk)
        .where(embeddings.c.model == model, listing_day_expr() < before)
        .order_by(sa.func.random())
        .limit(size + len(skip))
    )
    unwanted = set(skip)
    rows = [r for r in conn.execute(stmt) if int(r.paper_pk) not in unwanted][:size]
    texts = [keywords.text(r.title, r.abstract) for r in rows]
    base = Background(
        vectors=vectors.from_blobs([r.vector for r in rows], dim),
        ids=[str(r.id) for r in rows],
        meta=metadata.Block.of(metadata.rows([metadata.text(r.comment, r.categories) for r in rows])),
    )
    return base, texts


@dataclass
class Window:
    """What every reader of one window shares: candidates, background (prepared), the TF-IDF
    vectorizer fitted on both (None when keywords are off or there is nothing to fit), and the
    keyword rows of library papers, computed once per paper."""

    candidates: Candidates
    background: Background
    vectorizer: Any = None
    # Library papers' keyword rows, computed once per paper.
    keyword_rows: keywords.PaperRows = field(default_factory=keywords.PaperRows)
    # Readers already read for this window, by (user id, repository.library_version): the page reads
    # one cheap version row instead of the library's five queries (#13: a third of the page's time).
    # With each, its library's keyword rows stacked (stacking 200 rows took 22 ms a page).
    readers: dict[tuple[int, tuple[Any, ...]], tuple[Reader, Any, Any]] = field(default_factory=dict)
    # And their metadata rows (comments and categories).
    meta: keywords.PaperRows = field(default_factory=keywords.PaperRows)

    def library_keywords(self, *, conn: Connection | None, paper_pks: Sequence[int]) -> Any:
        """The TF-IDF rows of these papers (in this order; papers not stored left out), or None;
        `conn` reads the texts of papers not seen yet."""
        vectorizer = self.vectorizer
        if vectorizer is None:
            return None
        missing = [pk for pk in dict.fromkeys(paper_pks) if pk not in self.keyword_rows.index]
        if missing and conn is not None:
            found = repo.paper_texts(conn=conn, paper_pks=missing)
            self.keyword_rows.ensure(found, lambda texts: keywords.rows(vectorizer, texts))
        return self.keyword_rows.get(paper_pks)

    def library_meta(self, *, conn: Connection, paper_pks: Sequence[int]) -> Any:
        """The metadata rows of these papers (in this order; papers not stored left out), or None
        when the candidates have none."""
        if self.candidates.meta is None:
            return None
        missing = [pk for pk in paper_pks if pk not in self.meta.index]
        self.meta.ensure(repo.paper_meta(conn=conn, paper_pks=missing), metadata.rows)
        return self.meta.get(paper_pks)


def vectorizer(*, conn: Connection, size: int = KEYWORD_SAMPLE, cache: Path | None = None) -> Any:
    """The keyword model's TF-IDF vectorizer, fitted on up to `size` random stored papers (None when
    too few words survive). A fit takes seconds (tens on a busy machine), so with `cache` (a file)
    it is written there and reused while the store has grown less than KEYWORD_REFIT: an IDF
    barely moves with a day's papers."""
    papers_now = int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())
    if cache is not None:
        held = keywords.load(cache)
        if held is not None and held[1] <= papers_now <= held[1] * (1 + KEYWORD_REFIT):
            return held[0]
    stmt = sa.select(papers.c.title, papers.c.abstract).order_by(sa.func.random()).limit(size)
    texts = [keywords.text(title, abstract) for title, abstract in conn.execute(stmt)]
    fitted = keywords.fit(texts) if texts else None
    if fitted is not None and cache is not None:
        keywords.save(fitted, cache, papers=papers_now)
    return fitted


def window(
    *,
    conn: Connection,
    model: str,
    dim: int,
    since: date,
    tokenizer: Tokenizer | None = None,
    words: Any = None,
) -> Window:
    """The window of papers listed since `since`: candidates (theirs and the background's stems
    computed when a tokenizer is given), a background of older papers, and with a fitted vectorizer
    (`words`) their keyword rows."""
    cands = candidates_since(conn=conn, model=model, dim=dim, since=since)
    if tokenizer is not None:
        cands = cands.with_stems(tokenizer)
    base, texts = _background(conn=conn, model=model, dim=dim, before=since)
    if tokenizer is not None:  # how much of the store names a topic (recommend.COMMON_TOPIC)
        base = replace(base, stems=[tokenizer(t) for t in texts])
    fitted = words if len(cands.ids) and texts else None
    if fitted is not None:
        cands = replace(cands, keywords=keywords.rows(fitted, cands.texts))
        base = replace(base, keywords=keywords.rows(fitted, texts))
    return Window(cands, base.prepared(), fitted)


def candidates_since(*, conn: Connection, model: str, dim: int, since: date) -> Candidates:
    """Papers listed on or after `since` that have a vector of `model`."""
    rows, vecs = candidate_rows(conn=conn, model=model, dim=dim, since=since)
    return Candidates(
        ids=[str(r.id) for r in rows],
        vectors=vecs,
        texts=[keywords.text(r.title, r.abstract) for r in rows],
        authors=[list(r.authors or []) for r in rows],
        categories=[list(r.categories or []) for r in rows],
        meta=metadata.Block.of(metadata.rows([metadata.text(r.comment, r.categories) for r in rows])),
    )


def candidate_rows(
    *, conn: Connection, model: str, dim: int, since: date, before: date | None = None
) -> tuple[list[sa.Row[Any]], Matrix]:
    """The rows (pk, day, id, title, abstract, authors, categories, comment) and vectors of papers listed on
    or after `since` (and before `before`) that have a vector of `model`, by pk."""
    day = listing_day_expr()
    stmt = (
        sa.select(
            papers.c.pk, day.label("day"), papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors,
            papers.c.categories, papers.c.comment, embeddings.c.vector,
        )
        .join(embeddings, sa.and_(embeddings.c.paper_pk == papers.c.pk, embeddings.c.model == model))
        .where(day >= since, *([day < before] if before is not None else []))
        .order_by(papers.c.pk)
    )  # fmt: skip
    rows = list(conn.execute(stmt).all())
    return rows, vectors.from_blobs([r.vector for r in rows], dim)


def sample_order(*, conn: Connection, model: str, seed: str | None = None) -> list[tuple[int, date]]:
    """(pk, listing day) of every paper with a vector of `model`, in a random order (the same one for
    the same `seed`). The first `size` of them listed before a day are a uniform random sample of the
    papers before it, as ORDER BY random() draws one; the digest's windows of one run take theirs
    from one order, so they share most of their background and its rows (12 windows drew 12
    samples: #13, 6% of a run)."""
    stmt = (
        sa.select(embeddings.c.paper_pk, listing_day_expr())
        .join(papers, papers.c.pk == embeddings.c.paper_pk)
        .where(embeddings.c.model == model)
        .order_by(embeddings.c.paper_pk)
    )
    out = [
        (int(pk), day if isinstance(day, date) else date.fromisoformat(str(day)))
        for pk, day in conn.execute(stmt)
        if day is not None
    ]
    (random.Random(seed) if seed is not None else random).shuffle(out)
    return out


def background_texts(
    *, conn: Connection, model: str, dim: int, paper_pks: Sequence[int]
) -> dict[int, tuple[str, Matrix, str, str]]:
    """pk → (arXiv id, vector, text, metadata text) of these papers' `model` vectors, for a
    background sample."""
    out: dict[int, tuple[str, Matrix, str, str]] = {}
    pks = sorted({int(p) for p in paper_pks})
    for start in range(0, len(pks), 500):
        stmt = (
            sa.select(*_SAMPLED)
            .join(papers, papers.c.pk == embeddings.c.paper_pk)
            .where(embeddings.c.model == model, embeddings.c.paper_pk.in_(pks[start : start + 500]))
        )
        rows = conn.execute(stmt).all()
        vecs = vectors.from_blobs([r.vector for r in rows], dim)
        for r, vec in zip(rows, vecs, strict=True):
            out[int(r.paper_pk)] = (
                str(r.id), vec, keywords.text(r.title, r.abstract), metadata.text(r.comment, r.categories),
            )  # fmt: skip
    return out


@dataclass(frozen=True, slots=True)
class Reader:
    """What the database holds of one account for "For you": library vectors (newest pk first) with
    their titles, "not interested" vectors, followed authors, and the ids of all those papers."""

    positives: Matrix
    positive_titles: list[str]
    positive_pks: list[int]
    negatives: Matrix | None
    authors: dict[str, str]
    own: dict[str, int]  # arXiv id → pk of the library and "not interested" papers

    @property
    def own_pks(self) -> list[int]:
        """The pks of the reader's own papers (kept out of the background sample)."""
        return list(self.own.values())


def readers(*, conn: Connection, user_ids: Sequence[int], model: str, dim: int) -> dict[int, Reader]:
    """`Reader`s of many accounts in a handful of queries, whatever their number (the digest reads
    200 subscribers at once: 7 queries per subscriber were a third of its cost, #13)."""
    ids = sorted({int(u) for u in user_ids})
    if not ids:
        return {}
    libraries = repo.libraries(conn=conn, user_ids=ids)
    unwanted = repo.feedback_by_user(conn=conn, user_ids=ids, kind=service.NOT_INTERESTED)
    follows = repo.followed_by_user(conn=conn, user_ids=ids)
    every = sorted({pk for pks in (*libraries.values(), *unwanted.values()) for pk in pks})
    pks, vecs = vectors.load(conn=conn, model=model, dim=dim, paper_pks=every)
    row = {int(pk): i for i, pk in enumerate(pks)}
    papers_of = repo.paper_titles(conn=conn, paper_pks=every)
    out: dict[int, Reader] = {}
    for user_id in ids:
        mine = sorted((pk for pk in libraries[user_id] if pk in row), reverse=True)  # newest pk first
        neg = sorted(pk for pk in unwanted[user_id] if pk in row)
        own = {papers_of[pk][0]: pk for pk in (*libraries[user_id], *unwanted[user_id]) if pk in papers_of}
        out[user_id] = Reader(
            positives=vecs[[row[pk] for pk in mine]] if mine else np.zeros((0, dim), np.float32),
            positive_titles=[papers_of[pk][1] for pk in mine],
            positive_pks=mine,
            negatives=vecs[[row[pk] for pk in neg]] if neg else None,
            authors=dict(follows[user_id]),
            own=own,
        )
    return out


def profile_of(
    reader: Reader | None,
    *,
    dim: int,
    topics: Sequence[str] = (),
    topic_vectors: Matrix | None = None,
    exclude: Sequence[str] = (),
    categories: Sequence[str] = (),
    sent: frozenset[str] = frozenset(),
    positive_keywords: Any = None,
    positive_meta: Any = None,
) -> Profile:
    """A reader's Profile; a subscriber without an account (`reader` None) has topics only."""
    return Profile(
        positives=reader.positives if reader is not None else np.zeros((0, dim), np.float32),
        positive_titles=reader.positive_titles if reader is not None else [],
        positive_keywords=positive_keywords,
        positive_meta=positive_meta,
        negatives=reader.negatives if reader is not None else None,
        topics=list(topics),
        topic_vectors=topic_vectors,
        authors=reader.authors if reader is not None else {},
        categories=frozenset(categories),
        exclude=list(exclude),
        skip=(frozenset(reader.own) if reader is not None else frozenset()) | sent,
    )


def for_you(
    *,
    conn: Connection,
    user_id: int,
    model: str,
    dim: int,
    since: date,
    limit: int,
    topics: Sequence[str] = (),
    topic_vectors: Matrix | None = None,
    exclude: Sequence[str] = (),
    categories: Sequence[str] = (),
    sent: frozenset[str] = frozenset(),
    shared: Window | None = None,
) -> list[Pick]:
    """The reader's recommendations among papers listed since `since`, best first, each with why.

    An empty list means nothing cleared the calibrated floor (or the reader has no library, topics
    or followed authors yet): the caller says so in one line instead of filling slots. `shared` may
    be passed in when the caller keeps the window (the web page and the digest do).
    """
    win = (
        shared
        if shared is not None
        else window(conn=conn, model=model, dim=dim, since=since, words=vectorizer(conn=conn))
    )
    key = (user_id, repo.library_version(conn=conn, user_id=user_id))
    held = win.readers.get(key)
    if held is None:
        reader = readers(conn=conn, user_ids=[user_id], model=model, dim=dim)[user_id]
        mine = reader.positive_pks[:MAX_POSITIVES]
        rows = win.library_keywords(conn=conn, paper_pks=mine)
        held = win.readers[key] = (reader, rows, win.library_meta(conn=conn, paper_pks=mine))
    reader, rows, meta = held
    profile = profile_of(
        reader,
        dim=dim,
        topics=topics,
        topic_vectors=topic_vectors,
        exclude=exclude,
        categories=categories,
        sent=sent,
        positive_keywords=rows,
        positive_meta=meta,
    )
    # One BLAS thread: the products are small, and a busy machine's threads made them 10× slower.
    with _THREADS.limit(limits=1):
        return recommend(candidates=win.candidates, profile=profile, background=win.background, limit=limit)
