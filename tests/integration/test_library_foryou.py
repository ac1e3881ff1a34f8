""" "For you" read from a real database, SQLite and `--db=postgres` (issue #13): the library's
vectors as positives, "not interested" as negatives and skipped, followed authors, reasons."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
from sqlalchemy.engine import Engine

from papertrend.accounts import repository as accounts
from papertrend.db import transaction
from papertrend.library import foryou, service
from papertrend.library import recommend as rec
from papertrend.library import repository as repo
from papertrend.papers import repository as papers_repo
from papertrend.papers.models import PaperIn
from papertrend.search import vectors

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
D = 32
MODEL = "test-model"


def unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def _store(
    engine: Engine,
    rng: np.random.Generator,
    *,
    background: int,
    saved: int,
    near: int,
    new: int,
    author_at: int,
    author: str,
) -> int:
    """`background` older random papers, `saved` older papers about one direction (saved by Ada), and
    `new` papers listed since: the first `near` about that direction, the one at `author_at` by
    `author`, the rest random. Returns Ada's user id."""
    a = unit(rng.standard_normal(D))
    old = [
        PaperIn(id=f"2510.{i:05d}", title=f"Old {i}", source="t", listed_on=date(2025, 10, 1))
        for i in range(background + saved)
    ]
    fresh = [
        PaperIn(id=f"2611.{i:05d}", title=f"New {i}", source="t", listed_on=date(2026, 11, 30),
                authors=[author] if i == author_at else ["Someone"])
        for i in range(new)
    ]  # fmt: skip
    vecs = np.vstack(
        [
            unit(rng.standard_normal((background, D))),
            unit(a + 0.15 * rng.standard_normal((saved, D))),
            unit(a + 0.15 * rng.standard_normal((near, D))),
            unit(rng.standard_normal((new - near, D))),
        ]
    )
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=[*old, *fresh], now=NOW)
        pks = repo.pks_for_ids(conn=conn, paper_ids=[p.id for p in [*old, *fresh]])
        vectors.store(
            conn=conn, model=MODEL, paper_pks=[pks[p.id] for p in [*old, *fresh]], vectors=vecs, now=NOW
        )
        ada = accounts.user_for_login(conn=conn, email="ada@example.org", now=NOW).id
        for i in range(background, background + saved):
            service.save(conn=conn, user_id=ada, paper_id=f"2510.{i:05d}", now=NOW)
    return ada


def test_for_you_from_the_database(engine: Engine) -> None:
    # 300 older random papers (the background), 4 saved papers about one direction (older), and new
    # papers: 3 about it, one of them marked "not interested", 1 by a followed author, 40 random.
    rng = np.random.default_rng(13)
    ada = _store(engine, rng, background=300, saved=4, near=3, new=44, author_at=3, author="Ada Lovelace")
    with transaction(engine) as conn:
        service.not_interested(conn=conn, user_id=ada, paper_id="2611.00002", now=NOW)
        service.follow(conn=conn, user_id=ada, name="ada lovelace", now=NOW)
    with engine.connect() as conn:
        picks = foryou.for_you(conn=conn, user_id=ada, model=MODEL, dim=D, since=date(2026, 11, 1), limit=8)
        nobody = accounts.user_for_login(conn=conn, email="new@example.org", now=NOW).id
        empty = foryou.for_you(
            conn=conn, user_id=nobody, model=MODEL, dim=D, since=date(2026, 11, 1), limit=8
        )
    reasons = {p.paper_id: p.reason for p in picks}
    assert reasons["2611.00003"] == "by ada lovelace"
    assert reasons["2611.00000"].startswith("like Old 30") and reasons["2611.00001"].startswith("like Old 30")
    assert "2611.00002" not in reasons  # "not interested"
    assert not any(pid.startswith("2510.") for pid in reasons)  # only new papers, never the library
    assert len(picks) <= 5  # random papers rarely clear the floor: no padding
    assert empty == []


def test_a_kept_window_sees_library_changes_at_once(engine: Engine) -> None:
    """The page keeps each reader's library with its window, by library version (#13): saving,
    "not interested" and following change the next picks, never a stale copy."""
    rng = np.random.default_rng(7)
    ada = _store(engine, rng, background=200, saved=3, near=3, new=30, author_at=5, author="Grace Hopper")
    since = date(2026, 11, 1)

    def picks() -> dict[str, str]:
        with engine.connect() as conn:
            found = foryou.for_you(
                conn=conn, user_id=ada, model=MODEL, dim=D, since=since, limit=8, shared=win
            )
        return {p.paper_id: p.reason for p in found}

    with engine.connect() as conn:
        win = foryou.window(conn=conn, model=MODEL, dim=D, since=since)
    first = picks()
    assert {"2611.00000", "2611.00001", "2611.00002"} <= set(first)
    with transaction(engine) as conn:
        service.not_interested(conn=conn, user_id=ada, paper_id="2611.00000", now=NOW)
        service.save(conn=conn, user_id=ada, paper_id="2611.00001", now=NOW)
        service.follow(conn=conn, user_id=ada, name="Grace Hopper", now=NOW)
    second = picks()
    assert "2611.00000" not in second and "2611.00001" not in second
    assert second.get("2611.00005") == "by Grace Hopper" and "2611.00002" in second
    assert len(win.readers) == 2  # one entry per library version


def test_the_keyword_vectorizer_is_kept_until_the_store_grows(engine: Engine, tmp_path: Path) -> None:
    words = [f"alpha{i % 37} beta{i % 53} gamma{i % 71} delta{i % 13}" for i in range(400)]
    day = date(2025, 10, 1)
    items = [PaperIn(id=f"2510.{i:05d}", title=f"Paper {i}", abstract=w, source="t", listed_on=day)
             for i, w in enumerate(words)]  # fmt: skip
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=items, now=NOW)
    cache = tmp_path / foryou.KEYWORD_FILE
    with engine.connect() as conn:
        first = foryou.vectorizer(conn=conn, cache=cache)
    assert first is not None and cache.exists()
    stamp = cache.stat().st_mtime_ns
    with engine.connect() as conn:
        again = foryou.vectorizer(conn=conn, cache=cache)
    assert cache.stat().st_mtime_ns == stamp and again.vocabulary_ == first.vocabulary_  # read, not refitted
    more = [PaperIn(id=f"2511.{i:05d}", title=f"Newer {i}", abstract=f"epsilon{i % 11} zeta{i % 17}",
                    source="t", listed_on=day) for i in range(60)]  # fmt: skip
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=more, now=NOW)
    with engine.connect() as conn:
        grown = foryou.vectorizer(conn=conn, cache=cache)
    assert any(t.startswith("epsilon") for t in grown.vocabulary_)  # 15% more papers: refitted


def test_comments_and_categories_reach_the_model_from_the_database(engine: Engine) -> None:
    """The window reads candidates' and background papers' arXiv comments and categories, the
    reader's library brings its own (library/metadata.py): of two new papers alike in words and
    vectors, the one whose comment and categories are the library's scores higher."""
    rng = np.random.default_rng(5)
    words = [f"alpha{i % 37} beta{i % 53} gamma{i % 71} delta{i % 13}" for i in range(300)]
    old = [
        PaperIn(id=f"2510.{i:05d}", title=f"Old {i}", abstract=w, source="t", listed_on=date(2025, 10, 1),
                comment=f"{i % 20} pages", categories=["cs.CL"] if i % 2 else ["cs.CV", "cs.LG"])
        for i, w in enumerate(words)
    ]  # fmt: skip
    saved = [
        PaperIn(id=f"2510.{300 + i:05d}", title=f"Lesion segmentation {i}",
                abstract="lesion segmentation mri", source="t", listed_on=date(2025, 10, 1),
                comment="Accepted to MICCAI 2026", categories=["eess.IV", "cs.CV"])
        for i in range(6)
    ]  # fmt: skip
    twin = dict(
        title="Lesion segmentation",
        abstract="lesion segmentation mri",
        source="t",
        listed_on=date(2026, 11, 30),
    )
    fresh = [
        PaperIn(id="2611.00000", comment="Accepted to MICCAI 2026", categories=["eess.IV", "cs.CV"], **twin),  # type: ignore[arg-type]
        PaperIn(id="2611.00001", comment="8 pages", categories=["cs.CL"], **twin),  # type: ignore[arg-type]
    ]
    every = [*old, *saved, *fresh]
    a = unit(rng.standard_normal(D))
    vecs = np.vstack([unit(rng.standard_normal((300, D))), unit(a + 0.1 * rng.standard_normal((6, D))), a, a])
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=every, now=NOW)
        pks = repo.pks_for_ids(conn=conn, paper_ids=[p.id for p in every])
        vectors.store(conn=conn, model=MODEL, paper_pks=[pks[p.id] for p in every], vectors=vecs, now=NOW)
        ada = accounts.user_for_login(conn=conn, email="ada@example.org", now=NOW).id
        for p in saved:
            service.save(conn=conn, user_id=ada, paper_id=p.id, now=NOW)
    with engine.connect() as conn:
        win = foryou.window(
            conn=conn, model=MODEL, dim=D, since=date(2026, 11, 1), words=foryou.vectorizer(conn=conn)
        )
        reader = foryou.readers(conn=conn, user_ids=[ada], model=MODEL, dim=D)[ada]
        profile = foryou.profile_of(
            reader,
            dim=D,
            positive_keywords=win.library_keywords(conn=conn, paper_pks=reader.positive_pks),
            positive_meta=win.library_meta(conn=conn, paper_pks=reader.positive_pks),
        )
    assert win.candidates.meta is not None and win.candidates.meta.comments.shape[0] == 2
    assert win.background.meta is not None and win.background.meta.comments.shape[0] == 306
    assert profile.positive_meta is not None and profile.positive_meta.shape[0] == 6
    scores = rec.library_scores(candidates=win.candidates, profile=profile, background=win.background)[0]
    by_id = dict(zip(win.candidates.ids, scores, strict=True))
    assert by_id["2611.00000"] > by_id["2611.00001"] + 0.5
