"""Claims on the embedding backlog (issue #15): which papers a process is embedding now.

A claim is taken in its own short transaction and dropped in the transaction that stores the batch's
vectors, so a paper is embedded by one process at a time and none is lost to a kill: a dead process's
claims are taken over when its lease runs out, or at once on its own host (leases.owner_gone). On
PostgreSQL the candidate papers are locked `FOR UPDATE SKIP LOCKED`, so processes claiming at the same
moment each get other papers instead of waiting for each other; SQLite serialises the claims (one
writer). Functions take the caller's connection and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.leases import owner_gone
from papertrend.papers.tables import papers
from papertrend.search.tables import embed_claims, embeddings
from papertrend.sql import insert_for

_IN_CHUNK = 900


def _stale(conn: Connection, *, model: str, now: datetime) -> set[int]:
    """Claimed papers whose holder is gone; usually none."""
    rows = conn.execute(
        sa.select(embed_claims.c.paper_pk, embed_claims.c.owner, embed_claims.c.lease_until).where(
            embed_claims.c.model == model
        )
    )
    return {int(pk) for pk, owner, until in rows if owner_gone(owner, until, now)}


def claim(
    *, conn: Connection, model: str, owner: str, limit: int, now: datetime, lease: timedelta
) -> list[tuple[int, str, str]]:
    """Claim up to `limit` papers without a vector for `model`: (pk, title, abstract), oldest pk first."""
    stale = _stale(conn, model=model, now=now)
    vector = sa.exists().where(embeddings.c.paper_pk == papers.c.pk, embeddings.c.model == model)
    held = sa.exists().where(embed_claims.c.paper_pk == papers.c.pk, embed_claims.c.model == model)
    unclaimed = ~held if not stale else sa.or_(~held, papers.c.pk.in_(sorted(stale)))
    stmt = (
        sa.select(papers.c.pk, papers.c.title, papers.c.abstract)
        .where(~vector, unclaimed)
        .order_by(papers.c.pk)
        .limit(limit)
        .with_for_update(skip_locked=True, of=papers)
    )
    todo = [(int(r.pk), r.title, r.abstract) for r in conn.execute(stmt)]
    if not todo:
        return []
    taken_over = sorted(stale.intersection(pk for pk, _, _ in todo))
    if taken_over:
        conn.execute(
            embed_claims.delete().where(
                embed_claims.c.model == model, embed_claims.c.paper_pk.in_(taken_over)
            )
        )
    # A claim another process committed after this statement's snapshot is caught here: its row
    # exists, so ours is not inserted and the paper is not returned (no paper embedded twice).
    rows = [{"model": model, "paper_pk": pk, "owner": owner, "lease_until": now + lease} for pk, _, _ in todo]
    ins = insert_for(conn, embed_claims).on_conflict_do_nothing().returning(embed_claims.c.paper_pk)
    got = {int(pk) for pk in conn.execute(ins, rows).scalars()}
    # On PostgreSQL the candidates came from the first statement's snapshot: another process may have
    # stored their vectors (and dropped its claims) since. A new statement sees what it committed.
    done = set(
        conn.execute(
            sa.select(embeddings.c.paper_pk).where(
                embeddings.c.model == model, embeddings.c.paper_pk.in_(sorted(got))
            )
        ).scalars()
    )
    if done:
        release(conn=conn, model=model, owner=owner, paper_pks=sorted(done))
    return [t for t in todo if t[0] in got and t[0] not in done]


def release(*, conn: Connection, model: str, owner: str, paper_pks: Sequence[int]) -> None:
    """Drop this owner's claims on these papers (their vectors are stored, or they go back to the pool)."""
    pks = sorted(set(paper_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        conn.execute(
            embed_claims.delete().where(
                embed_claims.c.model == model,
                embed_claims.c.owner == owner,
                embed_claims.c.paper_pk.in_(pks[start : start + _IN_CHUNK]),
            )
        )
