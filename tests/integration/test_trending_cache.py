"""Trending reads a period's papers from a cache kept while the papers are unchanged (#16): every
answer is the one a fresh read gives, after votes, new papers, changed upvotes and deletions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.accounts.tables import users
from papertrend.db import reading, transaction
from papertrend.ingest.pipeline import store
from papertrend.papers import listings, repository, votes
from papertrend.papers.listings import Period, _listed
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.rank import Candidate, TrendParams
from papertrend.types import Hit

NOW = datetime(2026, 3, 20, tzinfo=UTC)
MONTH = Period("day", date(2026, 3, 1), date(2026, 3, 19))


def _paper(i: int, **fields: object) -> PaperIn:
    values: dict[str, object] = {
        "id": f"2603.{i:05d}",
        "title": f"Paper {i}",
        "source": "jsonl",
        "listed_on": date(2026, 3, 1) + timedelta(days=i % 19),
        "categories": ["cs.CL"] if i % 2 else ["cs.CV"],
    }
    values.update(fields)
    return PaperIn(**values)  # type: ignore[arg-type]


def _fresh(engine: Engine, categories: tuple[str, ...] = ()) -> list[Candidate]:
    """What an uncached read of the period gives."""
    with reading(engine) as conn:
        listed = _listed(conn, MONTH.start, MONTH.end, categories)
        own = votes.counts(conn=conn, paper_pks=[p.pk for p in listed])
    return sorted(
        (
            Candidate(p.candidate.paper_id, p.candidate.posted_at, p.candidate.hf_upvotes, own.get(p.pk, 0))
            for p in listed
        ),
        key=lambda c: c.paper_id,
    )


def _cached(engine: Engine, categories: tuple[str, ...] = ()) -> list[Candidate]:
    with reading(engine) as conn:
        found = listings.trend_candidates(conn=conn, start=MONTH.start, end=MONTH.end, categories=categories)
    return sorted(found, key=lambda c: c.paper_id)


def _ranked(engine: Engine) -> list[Hit]:
    with reading(engine) as conn:
        return listings.ranked_period(conn=conn, period=MONTH, sort="trending", now=NOW, params=TrendParams())


def test_cached_candidates_follow_votes_new_papers_upvotes_and_deletions(engine: Engine) -> None:
    with transaction(engine) as conn:
        store(conn=conn, items=[_paper(i) for i in range(30)], now=NOW)
        conn.execute(
            users.insert(),
            [
                {"email": f"u{i}@x.invalid", "email_key": f"u{i}@x.invalid", "created_at": NOW}
                for i in range(3)
            ],
        )
        user_ids = list(conn.execute(sa.select(users.c.id)).scalars())
    first = _cached(engine)
    assert first == _fresh(engine) and len(first) == 30
    assert _cached(engine, ("cs.CV",)) == _fresh(engine, ("cs.CV",))
    before = _ranked(engine)

    with transaction(engine) as conn:
        pk = repository.pk_of(conn=conn, paper_id="2603.00003")
        assert pk is not None
        for user in user_ids:
            votes.set_vote(conn=conn, user_id=user, paper_pk=pk, on=True, now=NOW)
    assert _cached(engine) == _fresh(engine)
    assert _ranked(engine) != before
    # An unvote and a vote in one go, at the same instant: the counts are read afresh each time.
    with transaction(engine) as conn:
        votes.set_vote(conn=conn, user_id=user_ids[0], paper_pk=pk, on=False, now=NOW)
        other = repository.pk_of(conn=conn, paper_id="2603.00004")
        assert other is not None
        votes.set_vote(conn=conn, user_id=user_ids[0], paper_pk=other, on=True, now=NOW)
    assert _cached(engine) == _fresh(engine)

    with transaction(engine) as conn:
        store(
            conn=conn,
            items=[_paper(100), _paper(5, hf_upvotes=40, source="hf-daily", authoritative=False)],
            now=NOW + timedelta(hours=1),
        )
    after = _cached(engine)
    assert after == _fresh(engine) and len(after) == 31
    assert next(c for c in after if c.paper_id == "2603.00005").hf_upvotes == 40

    with transaction(engine) as conn:
        conn.execute(papers.delete().where(papers.c.id == "2603.00100"))
    assert _cached(engine) == _fresh(engine) and len(_cached(engine)) == 30
