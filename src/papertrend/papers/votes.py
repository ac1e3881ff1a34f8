"""Upvotes cast here: one per user and paper (issue #4, part 2). Never commits (DESIGN §6.1).

Counts are read set-based: `count_expr()` is a correlated subquery that listing queries select beside
each paper (one query for a page, answered from `ix_votes_paper_pk`), never one query per paper.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers.tables import papers, votes
from papertrend.sql import insert_for

_IN_CHUNK = 900


def count_expr() -> sa.ScalarSelect[int]:
    """Votes here for the paper of the enclosing query's `papers` row."""
    return (
        sa.select(sa.func.count()).select_from(votes).where(votes.c.paper_pk == papers.c.pk).scalar_subquery()
    )


def counts(*, conn: Connection, paper_pks: Sequence[int]) -> dict[int, int]:
    """Votes here per paper, for papers that have any."""
    out: dict[int, int] = {}
    pks = list(dict.fromkeys(paper_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = (
            sa.select(votes.c.paper_pk, sa.func.count())
            .where(votes.c.paper_pk.in_(pks[start : start + _IN_CHUNK]))
            .group_by(votes.c.paper_pk)
        )
        out.update({int(pk): int(n) for pk, n in conn.execute(stmt)})
    return out


def counts_between(*, conn: Connection, first_pk: int, last_pk: int) -> dict[int, int]:
    """Votes here per paper, for papers with pks in [first_pk, last_pk] that have any."""
    stmt = (
        sa.select(votes.c.paper_pk, sa.func.count())
        .where(votes.c.paper_pk.between(first_pk, last_pk))
        .group_by(votes.c.paper_pk)
    )
    return {int(pk): int(n) for pk, n in conn.execute(stmt)}


def voted_by(*, conn: Connection, user_id: int, paper_pks: Sequence[int]) -> set[int]:
    """Which of these papers the user has upvoted."""
    out: set[int] = set()
    pks = list(dict.fromkeys(paper_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = sa.select(votes.c.paper_pk).where(
            votes.c.user_id == user_id, votes.c.paper_pk.in_(pks[start : start + _IN_CHUNK])
        )
        out.update(int(pk) for pk in conn.execute(stmt).scalars())
    return out


def set_vote(*, conn: Connection, user_id: int, paper_pk: int, on: bool, now: datetime) -> None:
    """Make the user's vote on the paper exist (`on`) or not; repeating it changes nothing.

    The primary key (user, paper) keeps votes unique; ON CONFLICT DO NOTHING makes a double submit
    of the same button harmless instead of an error.
    """
    if on:
        conn.execute(
            insert_for(conn, votes)
            .values(user_id=user_id, paper_pk=paper_pk, created_at=now)
            .on_conflict_do_nothing()
        )
    else:
        conn.execute(votes.delete().where(votes.c.user_id == user_id, votes.c.paper_pk == paper_pk))


def toggle(*, conn: Connection, user_id: int, paper_pk: int, want: bool | None, now: datetime) -> bool:
    """Set the vote to `want`, or flip it when `want` is None; whether the user now upvotes the paper."""
    if want is None:
        want = not voted_by(conn=conn, user_id=user_id, paper_pks=[paper_pk])
    set_vote(conn=conn, user_id=user_id, paper_pk=paper_pk, on=want, now=now)
    return want
