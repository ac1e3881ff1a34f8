"""All SQL of readers' libraries (issue #13). Functions take the caller's connection and never commit."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.accounts.tables import users
from papertrend.library.tables import collection_papers, collections, feedback, followed_authors
from papertrend.papers.tables import papers, votes
from papertrend.sql import insert_for

# SQLite allows 999 bound parameters per statement in old builds; chunk IN lists below that.
_IN_CHUNK = 900


@dataclass(frozen=True, slots=True)
class Collection:
    """A named collection of one user, with its paper count."""

    id: int
    user_id: int
    name: str
    public_token: str | None
    created_at: datetime
    n_papers: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """A paper in a collection (or in "Your upvotes"): its arXiv id and when it was added."""

    paper_id: str
    paper_pk: int
    added_at: datetime


def _count() -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(collection_papers)
        .where(collection_papers.c.collection_id == collections.c.id)
        .scalar_subquery()
    )


def _collection(row: sa.Row[Any]) -> Collection:
    cid, user_id, name, token, created_at, n_papers = tuple(row)
    return Collection(int(cid), int(user_id), str(name), token, created_at, int(n_papers))


def _select_collections() -> sa.Select[Any]:
    return sa.select(
        collections.c.id,
        collections.c.user_id,
        collections.c.name,
        collections.c.public_token,
        collections.c.created_at,
        _count().label("n_papers"),
    )


def create_collection(*, conn: Connection, user_id: int, name: str, now: datetime) -> int:
    """Insert a collection and return its id (the caller checked the name is free)."""
    return int(
        conn.execute(
            collections.insert()
            .values(user_id=user_id, name=name, created_at=now)
            .returning(collections.c.id)
        ).scalar_one()
    )


def collection_by_name(*, conn: Connection, user_id: int, name: str) -> Collection | None:
    """The user's collection of this exact name, or None."""
    row = conn.execute(
        _select_collections().where(collections.c.user_id == user_id, collections.c.name == name)
    ).first()
    return _collection(row) if row else None


def get_collection(*, conn: Connection, user_id: int, collection_id: int) -> Collection | None:
    """The user's collection with this id, or None (also when it belongs to someone else)."""
    row = conn.execute(
        _select_collections().where(collections.c.user_id == user_id, collections.c.id == collection_id)
    ).first()
    return _collection(row) if row else None


def public_collection(*, conn: Connection, token: str) -> Collection | None:
    """The collection shared under this link token, or None."""
    row = conn.execute(_select_collections().where(collections.c.public_token == token)).first()
    return _collection(row) if row else None


def list_collections(*, conn: Connection, user_id: int) -> list[Collection]:
    """The user's collections, oldest first."""
    rows = conn.execute(
        _select_collections()
        .where(collections.c.user_id == user_id)
        .order_by(collections.c.created_at, collections.c.id)
    ).all()
    return [_collection(r) for r in rows]


def rename_collection(*, conn: Connection, collection_id: int, name: str) -> None:
    """Give a collection a new name (the caller checked it is free)."""
    conn.execute(collections.update().where(collections.c.id == collection_id).values(name=name))


def delete_collection(*, conn: Connection, collection_id: int) -> None:
    """Delete a collection and its paper rows."""
    conn.execute(collection_papers.delete().where(collection_papers.c.collection_id == collection_id))
    conn.execute(collections.delete().where(collections.c.id == collection_id))


def set_public_token(*, conn: Connection, collection_id: int, token: str | None) -> None:
    """Share a collection under `token`, or make it private again (None)."""
    conn.execute(collections.update().where(collections.c.id == collection_id).values(public_token=token))


def add_papers(*, conn: Connection, collection_id: int, paper_pks: Sequence[int], now: datetime) -> int:
    """Put papers in a collection; those already there keep their date. Returns how many were new."""
    added = 0
    pks = list(dict.fromkeys(paper_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        chunk = pks[start : start + _IN_CHUNK]
        have = set(
            conn.execute(
                sa.select(collection_papers.c.paper_pk).where(
                    collection_papers.c.collection_id == collection_id,
                    collection_papers.c.paper_pk.in_(chunk),
                )
            ).scalars()
        )
        new = [pk for pk in chunk if pk not in have]
        if new:
            conn.execute(
                insert_for(conn, collection_papers).on_conflict_do_nothing(),
                [dict(collection_id=collection_id, paper_pk=pk, added_at=now) for pk in new],
            )
            added += len(new)
    return added


def remove_paper(*, conn: Connection, collection_id: int, paper_pk: int) -> bool:
    """Take a paper out of a collection; True when it was there."""
    result = conn.execute(
        collection_papers.delete().where(
            collection_papers.c.collection_id == collection_id, collection_papers.c.paper_pk == paper_pk
        )
    )
    return result.rowcount == 1


def collection_entries(*, conn: Connection, collection_id: int, limit: int | None = None) -> list[Entry]:
    """The papers of a collection, newest addition first."""
    stmt = (
        sa.select(papers.c.id, papers.c.pk, collection_papers.c.added_at)
        .join(papers, papers.c.pk == collection_papers.c.paper_pk)
        .where(collection_papers.c.collection_id == collection_id)
        .order_by(collection_papers.c.added_at.desc(), papers.c.pk.desc())
        .limit(limit)
    )
    return [Entry(str(pid), int(pk), at) for pid, pk, at in conn.execute(stmt)]


def upvote_entries(*, conn: Connection, user_id: int, limit: int | None = None) -> list[Entry]:
    """The papers the user upvoted ("Your upvotes"), newest first."""
    stmt = (
        sa.select(papers.c.id, papers.c.pk, votes.c.created_at)
        .join(papers, papers.c.pk == votes.c.paper_pk)
        .where(votes.c.user_id == user_id)
        .order_by(votes.c.created_at.desc(), papers.c.pk.desc())
        .limit(limit)
    )
    return [Entry(str(pid), int(pk), at) for pid, pk, at in conn.execute(stmt)]


def library_pks(*, conn: Connection, user_id: int) -> set[int]:
    """Every paper the user saved in any collection or upvoted: the recommender's positives."""
    saved = (
        sa.select(collection_papers.c.paper_pk)
        .join(collections, collections.c.id == collection_papers.c.collection_id)
        .where(collections.c.user_id == user_id)
    )
    voted = sa.select(votes.c.paper_pk).where(votes.c.user_id == user_id)
    return {int(pk) for pk in conn.execute(sa.union(saved, voted)).scalars()}


def libraries(*, conn: Connection, user_ids: Sequence[int]) -> dict[int, set[int]]:
    """`library_pks` of many users at once (the digest reads a chunk of subscribers in one go, #13)."""
    out: dict[int, set[int]] = {int(u): set() for u in user_ids}
    ids = sorted(out)
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        saved = (
            sa.select(collections.c.user_id, collection_papers.c.paper_pk)
            .join(collections, collections.c.id == collection_papers.c.collection_id)
            .where(collections.c.user_id.in_(chunk))
        )
        voted = sa.select(votes.c.user_id, votes.c.paper_pk).where(votes.c.user_id.in_(chunk))
        for user_id, pk in conn.execute(sa.union(saved, voted)):
            out[int(user_id)].add(int(pk))
    return out


def saved_in(*, conn: Connection, user_id: int, paper_pks: Sequence[int]) -> dict[int, list[int]]:
    """For each of these papers the user saved, the ids of the collections holding it."""
    out: dict[int, list[int]] = {}
    pks = list(dict.fromkeys(paper_pks))
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = (
            sa.select(collection_papers.c.paper_pk, collection_papers.c.collection_id)
            .join(collections, collections.c.id == collection_papers.c.collection_id)
            .where(
                collections.c.user_id == user_id,
                collection_papers.c.paper_pk.in_(pks[start : start + _IN_CHUNK]),
            )
            .order_by(collection_papers.c.collection_id)
        )
        for pk, cid in conn.execute(stmt):
            out.setdefault(int(pk), []).append(int(cid))
    return out


def pks_for_ids(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, int]:
    """The stored papers among these arXiv ids (keys without version) → their pk."""
    out: dict[str, int] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = sa.select(papers.c.id, papers.c.pk).where(papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        out.update({str(pid): int(pk) for pid, pk in conn.execute(stmt)})
    return out


def add_feedback(*, conn: Connection, user_id: int, paper_pk: int, kind: str, now: datetime) -> None:
    """Record feedback on a paper (idempotent)."""
    conn.execute(
        insert_for(conn, feedback)
        .values(user_id=user_id, paper_pk=paper_pk, kind=kind, created_at=now)
        .on_conflict_do_nothing()
    )


def remove_feedback(*, conn: Connection, user_id: int, paper_pk: int, kind: str) -> None:
    """Take back feedback on a paper."""
    conn.execute(
        feedback.delete().where(
            feedback.c.user_id == user_id, feedback.c.paper_pk == paper_pk, feedback.c.kind == kind
        )
    )


def feedback_pks(*, conn: Connection, user_id: int, kind: str) -> set[int]:
    """The papers the user gave this feedback on."""
    stmt = sa.select(feedback.c.paper_pk).where(feedback.c.user_id == user_id, feedback.c.kind == kind)
    return {int(pk) for pk in conn.execute(stmt).scalars()}


def feedback_by_user(*, conn: Connection, user_ids: Sequence[int], kind: str) -> dict[int, set[int]]:
    """`feedback_pks` of many users at once."""
    out: dict[int, set[int]] = {int(u): set() for u in user_ids}
    ids = sorted(out)
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = sa.select(feedback.c.user_id, feedback.c.paper_pk).where(
            feedback.c.user_id.in_(ids[start : start + _IN_CHUNK]), feedback.c.kind == kind
        )
        for user_id, pk in conn.execute(stmt):
            out[int(user_id)].add(int(pk))
    return out


def follow_author(*, conn: Connection, user_id: int, name: str, name_key: str, now: datetime) -> None:
    """Follow an author (idempotent; the first spelling given is kept)."""
    conn.execute(
        insert_for(conn, followed_authors)
        .values(user_id=user_id, name_key=name_key, name=name, created_at=now)
        .on_conflict_do_nothing()
    )


def unfollow_author(*, conn: Connection, user_id: int, name_key: str) -> bool:
    """Stop following an author; True when they were followed."""
    result = conn.execute(
        followed_authors.delete().where(
            followed_authors.c.user_id == user_id, followed_authors.c.name_key == name_key
        )
    )
    return result.rowcount == 1


def followed(*, conn: Connection, user_id: int) -> list[tuple[str, str]]:
    """The authors the user follows as (name_key, name), in the order followed."""
    stmt = (
        sa.select(followed_authors.c.name_key, followed_authors.c.name)
        .where(followed_authors.c.user_id == user_id)
        .order_by(followed_authors.c.created_at, followed_authors.c.name_key)
    )
    return [(str(k), str(n)) for k, n in conn.execute(stmt)]


def followed_by_user(*, conn: Connection, user_ids: Sequence[int]) -> dict[int, list[tuple[str, str]]]:
    """`followed` of many users at once."""
    out: dict[int, list[tuple[str, str]]] = {int(u): [] for u in user_ids}
    ids = sorted(out)
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = (
            sa.select(followed_authors.c.user_id, followed_authors.c.name_key, followed_authors.c.name)
            .where(followed_authors.c.user_id.in_(ids[start : start + _IN_CHUNK]))
            .order_by(followed_authors.c.created_at, followed_authors.c.name_key)
        )
        for user_id, key, name in conn.execute(stmt):
            out[int(user_id)].append((str(key), str(name)))
    return out


def library_version(*, conn: Connection, user_id: int) -> tuple[Any, ...]:
    """A value that changes whenever the user's library (saved or upvoted), "not interested" papers
    or followed authors change: per table, the rows' count, the sum of their paper pks (or name
    lengths) and the latest time. One query, where reading the library itself takes five."""
    return tuple(str(v) for v in conn.execute(_version_statement(), {"user_id": user_id}).one())


@functools.cache
def _version_statement() -> sa.Select[Any]:
    # Built once with a bound user id: building it per call took 12 ms of a page (cProfile).
    user = sa.bindparam("user_id", type_=sa.Integer)

    def parts(table: sa.Table, owner: Any, pk: Any, at: Any, *join: Any) -> list[Any]:
        source: Any = table
        for other, on in join:
            source = source.join(other, on)
        aggregates = (sa.func.count(), sa.func.coalesce(sa.func.sum(pk), 0), sa.func.max(at))
        return [sa.select(a).select_from(source).where(owner == user).scalar_subquery() for a in aggregates]

    saved = parts(
        collection_papers, collections.c.user_id, collection_papers.c.paper_pk, collection_papers.c.added_at,
        (collections, collections.c.id == collection_papers.c.collection_id),
    )  # fmt: skip
    voted = parts(votes, votes.c.user_id, votes.c.paper_pk, votes.c.created_at)
    unwanted = parts(feedback, feedback.c.user_id, feedback.c.paper_pk, feedback.c.created_at)
    follows = parts(
        followed_authors,
        followed_authors.c.user_id,
        sa.func.length(followed_authors.c.name_key),
        followed_authors.c.created_at,
    )
    return sa.select(*saved, *voted, *unwanted, *follows)


def paper_texts(*, conn: Connection, paper_pks: Sequence[int]) -> dict[int, str]:
    """pk → title and abstract of these stored papers (keywords.text)."""
    from papertrend.library.keywords import text

    out: dict[int, str] = {}
    pks = sorted({int(p) for p in paper_pks})
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = sa.select(papers.c.pk, papers.c.title, papers.c.abstract).where(
            papers.c.pk.in_(pks[start : start + _IN_CHUNK])
        )
        out.update({int(pk): text(str(title), abstract) for pk, title, abstract in conn.execute(stmt)})
    return out


def paper_meta(*, conn: Connection, paper_pks: Sequence[int]) -> dict[int, str]:
    """pk → arXiv comment and categories of these stored papers (metadata.text)."""
    from papertrend.library.metadata import text

    out: dict[int, str] = {}
    pks = sorted({int(p) for p in paper_pks})
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = sa.select(papers.c.pk, papers.c.comment, papers.c.categories).where(
            papers.c.pk.in_(pks[start : start + _IN_CHUNK])
        )
        out.update({int(pk): text(comment, categories) for pk, comment, categories in conn.execute(stmt)})
    return out


def user_ids_for_emails(*, conn: Connection, emails: Sequence[str]) -> dict[str, int]:
    """The accounts of these addresses (compared case-insensitively, as accounts' get_user_by_email
    compares them): lower-cased address → user id."""
    keys = sorted({e.strip().lower() for e in emails})
    out: dict[str, int] = {}
    for start in range(0, len(keys), _IN_CHUNK):
        stmt = sa.select(users.c.email_key, users.c.id).where(
            users.c.email_key.in_(keys[start : start + _IN_CHUNK])
        )
        out.update({str(k): int(i) for k, i in conn.execute(stmt)})
    return out


def paper_titles(*, conn: Connection, paper_pks: Sequence[int]) -> dict[int, tuple[str, str]]:
    """pk → (arXiv id, title) of these stored papers."""
    out: dict[int, tuple[str, str]] = {}
    pks = sorted({int(p) for p in paper_pks})
    for start in range(0, len(pks), _IN_CHUNK):
        stmt = sa.select(papers.c.pk, papers.c.id, papers.c.title).where(
            papers.c.pk.in_(pks[start : start + _IN_CHUNK])
        )
        out.update({int(pk): (str(pid), str(title)) for pk, pid, title in conn.execute(stmt)})
    return out
