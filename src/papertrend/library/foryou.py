"""A reader's "For you" from the database (issue #13): reads the library, feedback, followed authors
and stored vectors, and hands them to the pure ranking in recommend.py. The caller owns the
connection; nothing is written.

Keyword rows (library/keywords.py) are not read here yet: the fitted TF-IDF of the store is derived
data that the web/digest wiring will hold, as it holds the ANN index.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def _titles(conn: Connection, pks: Sequence[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(pks), 900):
        stmt = sa.select(papers.c.pk, papers.c.title).where(papers.c.pk.in_(list(pks[start : start + 900])))
        out.update({int(pk): str(title) for pk, title in conn.execute(stmt)})
    return out


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
    library = sorted(repo.library_pks(conn=conn, user_id=user_id), reverse=True) if user_id else []
    unwanted = (
        sorted(repo.feedback_pks(conn=conn, user_id=user_id, kind=service.NOT_INTERESTED)) if user_id else []
    )
    pos_pks, pos = vectors.load(conn=conn, model=model, dim=dim, paper_pks=library)
    order = np.argsort(-pos_pks, kind="stable")  # newest pk first
    pos_pks, pos = pos_pks[order], pos[order]
    titles = _titles(conn, [int(p) for p in pos_pks])
    _, neg = vectors.load(conn=conn, model=model, dim=dim, paper_pks=unwanted)
    known = _ids(conn, [*library, *unwanted])
    profile = Profile(
        positives=pos,
        positive_titles=[titles.get(int(p), "") for p in pos_pks],
        negatives=neg if len(neg) else None,
        topics=list(topics),
        topic_vectors=topic_vectors,
        authors=dict(repo.followed(conn=conn, user_id=user_id)) if user_id else {},
        categories=frozenset(categories),
        exclude=list(exclude),
        skip=frozenset(known) | sent,
    )
    return profile, [*library, *unwanted]


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


def _ids(conn: Connection, pks: Sequence[int]) -> dict[str, int]:
    out: dict[str, int] = {}
    for start in range(0, len(pks), 900):
        stmt = sa.select(papers.c.id, papers.c.pk).where(papers.c.pk.in_(list(pks[start : start + 900])))
        out.update({str(pid): int(pk) for pid, pk in conn.execute(stmt)})
    return out
