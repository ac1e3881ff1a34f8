"""All paper SQL. Functions take the caller's connection and never commit (DESIGN §6.1)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from papertrend.papers import bulk, votes
from papertrend.papers.merge import Row, merge
from papertrend.papers.models import Paper, PaperIn
from papertrend.papers.tables import papers
from papertrend.search.tables import embeddings
from papertrend.sql import utc_day

_COLUMNS = [c.name for c in papers.columns]
# SQLite allows 32766 bound parameters; stay well below for IN lists.
_IN_CHUNK = 900


@dataclass(slots=True)
class UpsertCounts:
    """How a batch changed the table."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    changed_ids: list[str] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)
    # The rows as written (pk included), new and changed: what derived indexes need, without a read.
    # One call's only: a sum (+=) leaves them out, so totals over a big ingest stay small.
    changed_rows: list[Row] = field(default_factory=list)

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.added += other.added
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.changed_ids.extend(other.changed_ids)
        self.added_ids.extend(other.added_ids)
        return self


def upsert_many(*, conn: Connection, items: Sequence[PaperIn], now: datetime) -> UpsertCounts:
    """Insert new papers and merge the rest into their stored rows (see papers.merge)."""
    counts = UpsertCounts()
    if not items:
        return counts
    # Read and written through papers.bulk: the rows in the database's storage form, as tuples.
    ids = list(dict.fromkeys(p.id for p in items))
    existing = bulk.rows_by_id(conn, ids)
    inserts: dict[str, Row] = {}
    updates: dict[str, Row] = {}
    for item in items:
        # A paper may occur twice in one batch: merge into whatever this batch already made of it.
        current = inserts.get(item.id) or updates.get(item.id) or existing.get(item.id)
        row, status = merge(current, item, now=now)
        if status == "unchanged":
            continue
        if item.id in existing:
            updates[item.id] = row
        else:
            inserts[item.id] = row
    names: list[tuple[int, str]] = []
    renamed: list[int] = []
    if inserts:
        # The caller indexes these for keyword search in the same transaction (ingest.pipeline.store):
        # the papers room knows nothing of search (#11).
        bulk.insert(conn, list(inserts.values()))
        pks = bulk.pks_by_id(conn, list(inserts))
        for pid, row in inserts.items():
            row["pk"] = pks[pid]
            if row["authors"]:
                names.append((row["pk"], author_names(row["authors"])))
    if updates:
        bulk.update(conn, list(updates.values()))
        # A vector describes the text it was made from: new text, new vector (`papertrend embed`).
        stale = [
            row["pk"]
            for pid, row in updates.items()
            if (row["title"], row["abstract"]) != (existing[pid]["title"], existing[pid]["abstract"])
        ]
        for start in range(0, len(stale), _IN_CHUNK):
            conn.execute(
                embeddings.delete().where(embeddings.c.paper_pk.in_(stale[start : start + _IN_CHUNK]))
            )
        for pid, row in updates.items():
            if row["authors"] != existing[pid]["authors"]:
                renamed.append(row["pk"])
                if row["authors"]:
                    names.append((row["pk"], author_names(row["authors"])))
    # The author filter's own index (index_authors), for new papers and those whose author list
    # changed; a new pk was never used, so it has no entry to drop.
    bulk.replace_author_names(conn, names, drop=renamed)
    counts.added = len(inserts)
    counts.updated = len(updates)
    counts.unchanged = len(ids) - counts.added - counts.updated
    counts.changed_ids = [*inserts, *updates]
    counts.added_ids = list(inserts)
    counts.changed_rows = [*inserts.values(), *updates.values()]
    return counts


def _to_paper(row: sa.RowMapping) -> Paper:
    return Paper(**{name: row[name] for name in _COLUMNS}, own_votes=int(row.get("own_votes") or 0))


def select_with_votes() -> sa.Select[Any]:
    """SELECT every paper column and `own_votes`, the upvotes cast here (one query, no N+1; issue #4)."""
    return sa.select(papers, votes.count_expr().label("own_votes"))


def get(*, conn: Connection, paper_id: str) -> Paper | None:
    """One paper by canonical id, or None."""
    row = conn.execute(select_with_votes().where(papers.c.id == paper_id)).mappings().first()
    return _to_paper(row) if row else None


def get_many(*, conn: Connection, paper_ids: Sequence[str]) -> list[Paper]:
    """Papers by id, in the order asked; unknown ids are left out."""
    found: dict[str, Paper] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = select_with_votes().where(papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        found.update((r["id"], _to_paper(r)) for r in conn.execute(stmt).mappings())
    return [found[i] for i in paper_ids if i in found]


def changed_at_of(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, datetime]:
    """Each stored paper's `changed_at` by id (unknown ids left out): whether a kept copy is current."""
    ids = list(dict.fromkeys(paper_ids))
    found: dict[str, datetime] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        stmt = sa.select(papers.c.id, papers.c.changed_at).where(
            papers.c.id.in_(ids[start : start + _IN_CHUNK])
        )
        found.update((str(r.id), r.changed_at) for r in conn.execute(stmt))
    return found


def total_votes_expr() -> sa.ColumnElement[int]:
    """Hugging Face upvotes plus upvotes here: what listings sort by and pages show."""
    return sa.func.coalesce(papers.c.hf_upvotes, 0) + votes.count_expr()


def listing_day_expr() -> sa.ColumnElement[date]:
    """SQL twin of `Paper.listing_day`: listing day, else HF daily day, else publication (UTC day).

    The one definition for listings, search filters, date sorts and digests (#11; there were four).
    Typed DATE, so it compares with `date` values on both databases (issue #6): on SQLite they bind as
    ISO text, the way the columns are stored; PostgreSQL has no `date >= varchar` operator. Indexed as
    it stands (ix_papers_listing_day, migration 0011).
    """
    return sa.func.coalesce(
        papers.c.listed_on, papers.c.hf_daily_on, utc_day(papers.c.published_at), type_=sa.Date
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def in_categories(categories: Sequence[str]) -> sa.ColumnElement[bool]:
    """The paper has any of the categories: the one category condition of listings and search (#14)."""
    # Categories are a JSON list of strings; matching the quoted name in its text is portable
    # across SQLite and PostgreSQL and cannot match a prefix ("cs.C" never matches "cs.CL").
    cats = sa.cast(papers.c.categories, sa.Text)
    return sa.or_(*(cats.like(f'%"{_like_escape(c)}"%', escape="\\") for c in categories))


# The author filter's index (migration 0014, #16): each paper's author names, lower-cased, one a line,
# keyed by the paper's pk, under a trigram index (SQLite: an FTS5 trigram table; PostgreSQL: pg_trgm),
# so "an author name holds this text" is an index lookup: LIKE over every paper's JSON author list
# read all 80k rows (120 ms per MCP author_papers call at 75k, 0.4 s under load).
author_index = sa.table("author_index", sa.column("rowid", sa.Integer), sa.column("names", sa.Text))
# Texts holding LIKE's wildcards or its escape are matched by the old scan (exact, slower): SQLite's
# trigram index is used only for a LIKE without ESCAPE.
_LIKE_SPECIAL = frozenset("%_\\")


def author_names(authors: Sequence[Any] | None) -> str:
    """The text the author filter searches: the names lower-cased, one a line."""
    # Lower-cased once, joined: the same text (only a final sigma's case depends on its neighbours,
    # and a line break ends a word either way), a third of the cost.
    return "\n".join(map(str, authors or ())).lower()


def index_authors(*, conn: Connection, paper_ids: Sequence[str]) -> None:
    """(Re)index these papers' author names for the author filter, in the caller's transaction."""
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        rows = conn.execute(
            sa.select(papers.c.pk, papers.c.authors).where(papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        ).all()
        conn.execute(author_index.delete().where(author_index.c.rowid.in_([pk for pk, _ in rows])))
        names = [{"rowid": pk, "names": author_names(authors)} for pk, authors in rows if authors]
        if names:
            conn.execute(author_index.insert(), names)


def by_authors(authors: Sequence[str]) -> sa.ColumnElement[bool]:
    """Any author name holds any of the texts, case ignored."""
    found: list[sa.ColumnElement[bool]] = []
    for text in (a.lower() for a in authors):
        if text and not _LIKE_SPECIAL.intersection(text):
            holding = sa.select(author_index.c.rowid).where(author_index.c.names.like(f"%{text}%"))
            found.append(papers.c.pk.in_(holding))
        else:
            names = sa.func.lower(sa.cast(papers.c.authors, sa.Text))
            found.append(names.like(f"%{_like_escape(text)}%", escape="\\"))
    return sa.or_(*found)


def ids_without_categories(*, conn: Connection, limit: int) -> list[str]:
    """Papers that have no categories (those only Hugging Face knows), newest first (#14)."""
    text = sa.cast(papers.c.categories, sa.Text)
    stmt = (
        sa.select(papers.c.id)
        .where(sa.or_(papers.c.categories.is_(None), text.in_(["[]", "null"])))
        .order_by(papers.c.pk.desc())
        .limit(limit)
    )
    return list(conn.execute(stmt).scalars())


def ids_for_pks(*, conn: Connection, pks: Sequence[int]) -> dict[int, str]:
    """Paper ids by integer handle; unknown handles are left out."""
    found: dict[int, str] = {}
    pks = list(pks)
    for start in range(0, len(pks), _IN_CHUNK):
        rows = conn.execute(
            sa.select(papers.c.pk, papers.c.id).where(papers.c.pk.in_(pks[start : start + _IN_CHUNK]))
        )
        found.update((int(pk), pid) for pk, pid in rows)
    return found


def listing_days(*, conn: Connection, paper_ids: Sequence[str]) -> dict[str, date | None]:
    """Each paper's listing day, by id; unknown ids are left out."""
    day = listing_day_expr()
    found: dict[str, date | None] = {}
    ids = list(dict.fromkeys(paper_ids))
    for start in range(0, len(ids), _IN_CHUNK):
        rows = conn.execute(
            sa.select(papers.c.id, day).where(papers.c.id.in_(ids[start : start + _IN_CHUNK]))
        )
        found.update(
            (pid, d if d is None or isinstance(d, date) else date.fromisoformat(str(d))) for pid, d in rows
        )
    return found


def list_for_days(
    *, conn: Connection, start: date, end: date, limit: int = 100, offset: int = 0
) -> list[Paper]:
    """Papers listed on days in [start, end], most upvoted first, then newest id."""
    day = listing_day_expr()
    stmt = (
        select_with_votes()
        .where(day >= start, day <= end)
        .order_by(total_votes_expr().desc(), papers.c.id.desc())
        .limit(limit)
        .offset(offset)
    )
    return [_to_paper(r) for r in conn.execute(stmt).mappings()]


def latest_day(*, conn: Connection, categories: Sequence[str] = ()) -> date | None:
    """The most recent listing day that has any paper (in any of `categories`, when given).

    A category's latest day may be older than the store's: only Hugging Face's papers, which have no
    category yet, were on the 80k store's last day, so "cs.CL" opened on an empty day (#14).
    """
    stmt = sa.select(sa.func.max(listing_day_expr()))
    value = conn.execute(stmt.where(in_categories(categories)) if categories else stmt).scalar()
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def count(*, conn: Connection) -> int:
    """Number of stored papers."""
    return int(conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one())


def count_on_hf_daily(*, conn: Connection) -> int:
    """Number of stored papers that were on a Hugging Face daily page."""
    return int(conn.execute(sa.select(sa.func.count()).where(papers.c.hf_daily_on.is_not(None))).scalar_one())


def pk_of(*, conn: Connection, paper_id: str) -> int | None:
    """The integer handle of a stored paper, or None."""
    pk = conn.execute(sa.select(papers.c.pk).where(papers.c.id == paper_id)).scalar()
    return None if pk is None else int(pk)


def count_and_last_change(*, conn: Connection) -> tuple[int, str]:
    """How many papers there are and the newest `changed_at`, as text: what derived indexes check."""
    # Two statements: SQLite answers max() from the index and count() from its page counts only when
    # each stands alone; together they scanned every index entry (18 ms at 80k, per call).
    total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
    newest = conn.execute(sa.select(sa.func.max(papers.c.changed_at))).scalar()
    return int(total), str(newest or "")


@dataclass(frozen=True, slots=True)
class PublishedKey:
    """Where a paper stands in publication order (newest first, undated last): a keyset position."""

    published_at: datetime | None
    pk: int


def newest_published(*, conn: Connection, after: PublishedKey | None, limit: int) -> list[Paper]:
    """Up to `limit` papers by publication time, newest first, then undated ones, each order broken by
    pk (descending); after `after` when given. Keyset paging: both parts walk an index from the key."""
    published, pk = papers.c.published_at, papers.c.pk
    found: list[Paper] = []
    if after is None or after.published_at is not None:
        dated: sa.ColumnElement[bool] = published.is_not(None)
        if after is not None:
            at = after.published_at
            # `<=` first, as a range the index can start from: the OR alone made SQLite walk the index
            # from the newest paper to the cursor on every page.
            dated = sa.and_(published <= at, sa.or_(published < at, pk < after.pk))
        stmt = select_with_votes().where(dated).order_by(published.desc(), pk.desc()).limit(limit)
        found = [_to_paper(r) for r in conn.execute(stmt).mappings()]
    if len(found) < limit:
        undated: sa.ColumnElement[bool] = published.is_(None)
        if after is not None and after.published_at is None:
            undated = sa.and_(undated, pk < after.pk)
        stmt = select_with_votes().where(undated).order_by(pk.desc()).limit(limit - len(found))
        found += [_to_paper(r) for r in conn.execute(stmt).mappings()]
    return found


def ids_submitted_by(*, conn: Connection, user: str, start: date, end: date) -> set[str]:
    """Papers listed in [start, end] that this Hugging Face user put on its daily page (#16)."""
    day = listing_day_expr()
    who = papers.c.hf_submitted_by["user"].as_string()  # json_extract on SQLite, ->> on PostgreSQL
    stmt = sa.select(papers.c.id).where(day >= start, day <= end, who == user)
    return set(conn.execute(stmt).scalars())
