"""The papers a filter lets through, as rankers that filter in memory read them (#16): the in-memory day
column and the author index answer exactly what the SQL conditions do, and follow every change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.ingest.pipeline import store
from papertrend.papers import repository
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.search.filters import allowed_pks, conditions
from papertrend.types import Filters

NOW = datetime(2026, 3, 20, tzinfo=UTC)
AUTHORS = [
    ["Ada Lovelace", "Alan Turing"],
    ["Grace Hopper"],
    ["Alan Turingson", "Jürgen Müller"],
    ["Édith Piaf_2", "100% Human"],
    [],
]


def _papers(n: int = 40) -> list[PaperIn]:
    out = []
    for i in range(n):
        day = date(2026, 3, 1) + timedelta(days=i % 10)
        kind = i % 4
        out.append(
            PaperIn(
                id=f"2603.{i:05d}",
                title=f"Paper {i}",
                source="jsonl" if kind != 1 else "hf-daily",
                authoritative=kind != 1,
                authors=AUTHORS[i % len(AUTHORS)],
                categories=["cs.CL"] if i % 3 else ["cs.CV", "cs.AI"],
                listed_on=day if kind in (0, 3) else None,
                hf_daily_on=day if kind == 1 else None,
                published_at=datetime.combine(day, datetime.min.time(), UTC) if kind == 2 else None,
            )
        )
    # A paper with no day at all: no date range holds it.
    out.append(PaperIn(id="2603.99999", title="Undated", source="jsonl", authors=["Ada Lovelace"]))
    return out


FILTERS = [
    Filters(since=date(2026, 3, 3)),
    Filters(until=date(2026, 3, 4)),
    Filters(since=date(2026, 3, 2), until=date(2026, 3, 2)),
    Filters(since=date(2026, 3, 20)),
    Filters(since=date(2026, 3, 5), categories=("cs.CV",)),
    Filters(categories=("cs.AI", "cs.CL")),
    Filters(authors=("turing",)),
    Filters(authors=("ALAN TURING",)),
    Filters(authors=("müller",)),
    Filters(authors=("Jürgen",)),
    Filters(authors=("piaf_2",)),
    Filters(authors=("100%",)),
    Filters(authors=("lovelace", "hopper"), since=date(2026, 3, 4), until=date(2026, 3, 8)),
    Filters(authors=("nobody at all",)),
    Filters(authors=("al",)),
]


def _by_sql(engine: Engine, filters: Filters) -> set[int]:
    with reading(engine) as conn:
        return set(conn.execute(sa.select(papers.c.pk).where(*conditions(filters))).scalars())


def _allowed(engine: Engine, filters: Filters) -> set[int] | None:
    with reading(engine) as conn:
        found = allowed_pks(conn=conn, filters=filters)
    if found is None:
        return None
    assert np.all(np.diff(found) > 0), "sorted and unique"
    return set(found.tolist())


@pytest.mark.parametrize("filters", FILTERS, ids=repr)
def test_allowed_papers_are_those_the_sql_filter_keeps(engine: Engine, filters: Filters) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(), now=NOW)
    assert _allowed(engine, filters) == _by_sql(engine, filters)


def test_author_filter_matches_any_single_name_case_ignored_non_ascii_too(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(10), now=NOW)

    def ids(*authors: str) -> set[str]:
        with reading(engine) as conn:
            where = conditions(Filters(authors=authors))
            return set(conn.execute(sa.select(papers.c.id).where(*where)).scalars())

    turing = {"2603.00000", "2603.00002", "2603.00005", "2603.00007"}
    assert ids("turing") == ids("TURING") == turing
    assert ids("alan turing") == {"2603.00000", "2603.00005", "2603.00002", "2603.00007"}
    assert ids("müller") == ids("MÜLLER".lower()) == {"2603.00002", "2603.00007"}
    # SQLite's lower() folds ASCII only, so "Édith" was not found by "édith" there.
    assert ids("édith") == ids("ÉDITH") == {"2603.00003", "2603.00008"}
    # LIKE's own characters are matched as themselves.
    assert ids("piaf_2") == ids("100%") == {"2603.00003", "2603.00008"}
    assert ids("piaf%2") == set()
    assert ids("zz") == set()


def test_author_index_follows_new_changed_and_deleted_papers(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(10), now=NOW)
    hopper = Filters(authors=("hopper",))
    before = _allowed(engine, hopper)
    assert before == _by_sql(engine, hopper) and len(before or ()) == 2
    # An arXiv source is authoritative for authors: it replaces the list.
    changed = PaperIn(id="2603.00001", title="Paper 1", source="jsonl", authors=["X Y"])
    added = PaperIn(id="2603.00100", title="New", source="jsonl", authors=["Grace Hopper"])
    with transaction(engine) as conn:
        store(conn=conn, items=[changed, added], now=NOW + timedelta(hours=1))
    after = _by_sql(engine, hopper)
    with reading(engine) as conn:
        new_pk = repository.pk_of(conn=conn, paper_id="2603.00100")
        old_pk = repository.pk_of(conn=conn, paper_id="2603.00001")
    assert new_pk in after and old_pk not in after
    assert _allowed(engine, hopper) == after
    with transaction(engine) as conn:
        conn.execute(papers.delete().where(papers.c.id == "2603.00100"))
    assert new_pk not in _by_sql(engine, hopper)
    with reading(engine) as conn:
        left = conn.execute(sa.select(repository.author_index.c.rowid)).scalars().all()
    assert new_pk not in left


def test_day_column_follows_new_and_changed_papers(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=_papers(), now=NOW)
    since = Filters(since=date(2026, 3, 10))
    assert _allowed(engine, since) == _by_sql(engine, since)
    # The filter keeps every dated paper but not the undated one: still a filter.
    first = Filters(since=date(2026, 3, 1))
    assert _allowed(engine, first) == _by_sql(engine, first)
    new = PaperIn(id="2603.00500", title="New", source="jsonl", listed_on=date(2026, 3, 12))
    with transaction(engine) as conn:
        store(conn=conn, items=[new], now=NOW + timedelta(hours=1))
    assert _allowed(engine, since) == _by_sql(engine, since)
    # A change of day moves changed_at, as every change does (papers.merge).
    with transaction(engine) as conn:
        conn.execute(
            papers.update()
            .where(papers.c.id == "2603.00000")
            .values(listed_on=date(2026, 3, 11), changed_at=NOW + timedelta(hours=2))
        )
    assert _allowed(engine, since) == _by_sql(engine, since)
    with reading(engine) as conn:
        moved = repository.pk_of(conn=conn, paper_id="2603.00000")
    assert moved in _by_sql(engine, since)


def test_a_date_filter_that_keeps_every_paper_is_no_filter(engine: Engine) -> None:
    items = [p for p in _papers() if p.id != "2603.99999"]
    with transaction(engine) as conn:
        store(conn=conn, items=items, now=NOW)
    assert _allowed(engine, Filters(since=date(2026, 3, 1))) is None
    assert _allowed(engine, Filters(since=date(2026, 3, 1), until=date(2026, 3, 10))) is None
    assert _allowed(engine, Filters(since=date(2026, 3, 2))) == _by_sql(
        engine, Filters(since=date(2026, 3, 2))
    )
