"""A reader's "For you" from the database (issue #13): reads the library, feedback, followed authors
and stored vectors, and hands them to the pure ranking in recommend.py. The caller owns the
connection; nothing is written.

Keyword rows (library/keywords.py) are not read here yet: the fitted TF-IDF of the store is derived
data that the web/digest wiring will hold, as it holds the ANN index.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.library import repository as repo
from papertrend.library import service
from papertrend.library.recommend import Background, Candidates, Matrix, Pick, Profile, recommend
from papertrend.papers.repository import listing_day_expr
from papertrend.papers.tables import papers
from papertrend.search import vectors
from papertrend.search.tables import embeddings

BACKGROUND = 2_000


def background(
    *, conn: Connection, model: str, dim: int, before: date, skip: Sequence[int] = (), size: int = BACKGROUND
) -> Background:
    """Vectors of up to `size` random papers listed before `before` (older than the candidates) and
    not in `skip` (the reader's own papers): the yardstick of every score."""
    stmt = (
        sa.select(embeddings.c.paper_pk, embeddings.c.vector)
        .join(papers, papers.c.pk == embeddings.c.paper_pk)
        .where(embeddings.c.model == model, listing_day_expr() < before)
        .order_by(sa.func.random())
        .limit(size + len(skip))
    )
    unwanted = set(skip)
    blobs = [blob for pk, blob in conn.execute(stmt) if int(pk) not in unwanted][:size]
    return Background(vectors=vectors.from_blobs(blobs, dim))


def candidates_since(*, conn: Connection, model: str, dim: int, since: date) -> Candidates:
    """Papers listed on or after `since` that have a vector of `model`."""
    stmt = (
        sa.select(
            papers.c.id, papers.c.title, papers.c.abstract, papers.c.authors, papers.c.categories,
            embeddings.c.vector,
        )
        .join(embeddings, sa.and_(embeddings.c.paper_pk == papers.c.pk, embeddings.c.model == model))
        .where(listing_day_expr() >= since)
        .order_by(papers.c.pk)
    )  # fmt: skip
    rows = conn.execute(stmt).all()
    return Candidates(
        ids=[str(r.id) for r in rows],
        vectors=vectors.from_blobs([r.vector for r in rows], dim),
        texts=[f"{r.title} {r.abstract or ''}" for r in rows],
        authors=[list(r.authors or []) for r in rows],
        categories=[list(r.categories or []) for r in rows],
    )


@dataclass(frozen=True, slots=True)
class Reader:
    """What the database holds of one account for "For you": library vectors (newest pk first) with
    their titles, "not interested" vectors, followed authors, and the ids of all those papers."""

    positives: Matrix
    positive_titles: list[str]
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
) -> Profile:
    """A reader's Profile; a subscriber without an account (`reader` None) has topics only."""
    return Profile(
        positives=reader.positives if reader is not None else np.zeros((0, dim), np.float32),
        positive_titles=reader.positive_titles if reader is not None else [],
        negatives=reader.negatives if reader is not None else None,
        topics=list(topics),
        topic_vectors=topic_vectors,
        authors=reader.authors if reader is not None else {},
        categories=frozenset(categories),
        exclude=list(exclude),
        skip=(frozenset(reader.own) if reader is not None else frozenset()) | sent,
    )


def profile_for(
    *,
    conn: Connection,
    user_id: int | None,
    model: str,
    dim: int,
    topics: Sequence[str] = (),
    topic_vectors: Matrix | None = None,
    exclude: Sequence[str] = (),
    categories: Sequence[str] = (),
    sent: frozenset[str] = frozenset(),
) -> tuple[Profile, list[int]]:
    """A reader's Profile (library, "not interested", followed authors, topics) and the pks of their
    own papers; a subscriber without an account (`user_id` None) has topics only."""
    reader = readers(conn=conn, user_ids=[user_id], model=model, dim=dim)[user_id] if user_id else None
    profile = profile_of(
        reader,
        dim=dim,
        topics=topics,
        topic_vectors=topic_vectors,
        exclude=exclude,
        categories=categories,
        sent=sent,
    )
    return profile, reader.own_pks if reader is not None else []


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
    base: Background | None = None,
    cands: Candidates | None = None,
) -> list[Pick]:
    """The reader's recommendations among papers listed since `since`, best first, each with why.

    An empty list means nothing cleared the calibrated floor (or the reader has no library, topics
    or followed authors yet): the caller says so in one line instead of filling slots. `base` and
    `cands` may be passed in when the caller keeps them (the web page and the digest do).
    """
    profile, own = profile_for(
        conn=conn,
        user_id=user_id,
        model=model,
        dim=dim,
        topics=topics,
        topic_vectors=topic_vectors,
        exclude=exclude,
        categories=categories,
        sent=sent,
    )
    return recommend(
        candidates=cands
        if cands is not None
        else candidates_since(conn=conn, model=model, dim=dim, since=since),
        profile=profile,
        background=base
        if base is not None
        else background(conn=conn, model=model, dim=dim, before=since, skip=own),
        limit=limit,
    )
