"""`papertrend db copy`: SQLite → PostgreSQL and back without loss, verified, safe to rerun (issue #6,
item 4). One side is always PostgreSQL, so these tests need the cluster of `pytest --db=postgres`."""

from __future__ import annotations

import gzip
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend import dbcopy
from papertrend.accounts import repository as accounts
from papertrend.accounts.tables import users
from papertrend.cli import app
from papertrend.db import create_engine, reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.tables import digest_editions, sent_papers, subscriptions, suppressions
from papertrend.ingest import pipeline
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.ingest.tables import ingest_cursors
from papertrend.migrate import upgrade
from papertrend.papers import votes
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers
from papertrend.schema import metadata
from papertrend.search import keyword, vectors
from papertrend.search.index import open_index, prepare
from papertrend.search.tables import embeddings

pytestmark = pytest.mark.postgres_only

LISTING = "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz"
N = 40
MODEL = "test-random"
DIM = 32
NOW = datetime(2026, 3, 1, 7, 30, 15, 123456, tzinfo=UTC)
# Words frequent in the first real papers of the listing, so each query ranks several of them.
QUERIES = ("vision language models", "image segmentation", "reinforcement learning for reasoning")


def _sqlite(tmp_path: Path, name: str) -> Engine:
    return create_engine(f"sqlite:///{tmp_path / name}.db")


def _populate(engine: Engine, fixture_data: Path, tmp_path: Path) -> None:
    """Real papers from a JSONL file, vectors, users, sessions, votes, subscriptions and outbox rows."""
    head = tmp_path / "head.jsonl"
    with gzip.open(fixture_data / LISTING, "rt") as fh, head.open("w") as out:
        for i, line in enumerate(fh):
            if i >= N:
                break
            out.write(line)
    assert run_ingest(engine=engine, source=JsonlSource(path=head)).ok
    with transaction(engine) as conn:
        # One paper with every optional kind of value: JSON keywords, dates, imported signals.
        pipeline.store(
            conn=conn,
            items=[
                PaperIn(
                    id="2601.00001",
                    title="Ünïcode, quotes ' \" and JSON {a: 1}",
                    abstract="Segmentation of images by vision language models.",
                    authors=["Zoë Example", "李 雷"],
                    categories=["cs.CV", "cs.CL"],
                    source="test",
                    listed_on=date(2026, 1, 2),
                    published_at=datetime(2026, 1, 1, 23, 59, 59, 999999, tzinfo=UTC),
                    hf_upvotes=7,
                    hf_ai_keywords=["segmentation", "vlm"],
                )
            ],
            now=NOW,
        )
        pks = list(conn.execute(sa.select(papers.c.pk).order_by(papers.c.pk)).scalars())
        matrix = np.random.default_rng(6).standard_normal((len(pks), DIM)).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        vectors.store(conn=conn, model=MODEL, paper_pks=pks, vectors=matrix, now=NOW)
        for i, email in enumerate(["ada@example.org", "Bob@Example.org", "cy@example.org"]):
            user = accounts.user_for_login(conn=conn, email=email, now=NOW + timedelta(minutes=i))
            accounts.add_session(
                conn=conn,
                token_hash=f"{i:064x}",
                user_id=user.id,
                now=NOW,
                expires_at=NOW + timedelta(days=30),
            )
            for pk in pks[i : i + 5]:
                votes.toggle(conn=conn, user_id=user.id, paper_pk=pk, want=True, now=NOW)
        for i, email in enumerate(["sub1@example.org", "sub2@example.org"]):
            prefs = subs.Preferences(
                topics=("agents", f"topic {i}"), categories=("cs.CL",), timezone="Europe/Paris"
            )
            made = subs.subscribe(conn=conn, email=email, prefs=prefs, now=NOW)
            assert made.subscription_id is not None and made.token is not None
            subs.confirm(conn=conn, token=made.token, now=NOW)
            edition = conn.execute(
                digest_editions.insert()
                .values(
                    subscription_id=made.subscription_id,
                    edition_date=date(2026, 3, 1),
                    since=date(2026, 2, 28),
                    status="sent" if i == 0 else "pending",
                    papers={"trending": ["2601.00001"], "for_you": [], "scores": {"b": 0.5, "a": 1.25}},
                    message_id=f"<edition-{i}@papertrend.test>",
                    attempts=i,
                    next_attempt_at=NOW,
                    created_at=NOW,
                    updated_at=NOW,
                    sent_at=NOW if i == 0 else None,
                )
                .returning(digest_editions.c.id)
            ).scalar_one()
            conn.execute(
                sent_papers.insert().values(
                    subscription_id=made.subscription_id, paper_id="2601.00001", edition_id=edition
                )
            )
        conn.execute(
            suppressions.insert().values(email_key="gone@example.org", reason="bounce", created_at=NOW)
        )


def _source(tmp_path: Path, fixture_data: Path) -> Engine:
    engine = _sqlite(tmp_path, "source")
    upgrade(engine)
    _populate(engine, fixture_data, tmp_path)
    return engine


def _count(engine: Engine, table: sa.Table) -> int:
    with reading(engine) as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _keyword_top(engine: Engine, *, limit: int = 5) -> list[list[tuple[str, float]]]:
    with reading(engine) as conn:
        return [
            [(h.paper_id, round(h.score, 6)) for h in keyword.search(conn=conn, query=q, limit=limit)]
            for q in QUERIES
        ]


def _top_ids(engine: Engine) -> list[list[str]]:
    """The top 3 keyword hits of each query, on which SQLite and PostgreSQL agree for these papers."""
    return [[pid for pid, _ in q] for q in _keyword_top(engine, limit=3)]


def _vector_top(engine: Engine, tmp_path: Path) -> list[list[int]]:
    with transaction(engine) as conn:
        prepare(conn=conn, model=MODEL, dim=DIM)
        idx = open_index(dialect=conn.dialect.name, model=MODEL, dim=DIM, index_dir=tmp_path / "vx")
        idx.refresh(conn=conn)
        out = []
        for pk in (1, 10, 20):
            query = idx.vector_of(conn=conn, paper_pk=pk)
            assert query is not None
            out.append([hit_pk for hit_pk, _ in idx.search(conn=conn, query=query, k=5)])
        return out


def _assert_verified(report: dbcopy.CopyReport) -> None:
    assert report.ok, [t for t in report.tables if not t.ok]
    assert [t.table for t in report.tables] == [t.name for t in metadata.sorted_tables]


def test_sqlite_to_postgres_and_back_loses_nothing(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str], engine: Engine
) -> None:
    source = _source(tmp_path, fixture_data)
    pg = create_engine(new_database_url("copy"))
    back = _sqlite(tmp_path, "back")

    there = dbcopy.copy_database(source=source, target=pg, batch=16)
    _assert_verified(there)
    by_table = {t.table: t for t in there.tables}
    # Every kind of data the issue names made the trip, all of it copied now.
    for name in ("papers", "embeddings", "users", "sessions", "votes", "subscriptions", "digest_editions",
                 "sent_papers", "subscription_tokens", "suppressions", "ingest_runs"):  # fmt: skip
        assert by_table[name].source_rows > 0, name
    assert all(t.copied == t.source_rows for t in there.tables)
    assert by_table["papers"].source_rows == N + 1
    assert by_table["votes"].source_rows == 15

    home = dbcopy.copy_database(source=pg, target=back, batch=7)
    _assert_verified(home)
    # Back on SQLite the data hashes exactly as it did before the trip.
    assert [t.source_checksum for t in there.tables] == [t.target_checksum for t in home.tables]

    # The derived keyword indexes were rebuilt: each answers as one its database built itself while
    # ingesting (`engine`: the same data loaded straight into PostgreSQL), with the same papers first;
    # scores agree to a few percent, not to the bit: a tantivy index that re-indexed papers still
    # counts their old documents in its statistics until it merges them away.
    _populate(engine, fixture_data, tmp_path)
    expected = _keyword_top(source)
    assert all(expected)
    for built, rebuilt in ((expected, _keyword_top(back)), (_keyword_top(engine), _keyword_top(pg))):
        assert [[pid for pid, _ in q] for q in rebuilt] == [[pid for pid, _ in q] for q in built]
        assert [s for q in rebuilt for _, s in q] == pytest.approx([s for q in built for _, s in q], rel=0.05)
    # ... and the two databases agree on the top hits (their stemmers differ further down).
    assert _top_ids(pg) == _top_ids(source)
    near = _vector_top(source, tmp_path / "a")
    assert [row[0] for row in near] == [1, 10, 20]
    assert _vector_top(pg, tmp_path / "b") == near == _vector_top(back, tmp_path / "c")


def _add_rows(engine: Engine, n: int) -> tuple[int, int, int]:
    """A new paper, user and subscription; their new keys."""
    title = f"Zyzzogeton {n}: a paper after the move"
    item = PaperIn(id=f"2612.9999{n}", title=title, source="test", categories=["cs.AI"])
    with transaction(engine) as conn:
        pipeline.store(conn=conn, items=[item], now=NOW)
        paper_pk = conn.execute(sa.select(papers.c.pk).where(papers.c.id == item.id)).scalar_one()
        user = accounts.user_for_login(conn=conn, email=f"new{n}@example.org", now=NOW)
        made = subs.subscribe(conn=conn, email=f"new-sub{n}@example.org", prefs=subs.Preferences(), now=NOW)
        assert made.subscription_id is not None
    with reading(engine) as conn:  # the keyword index follows what is committed
        hits = keyword.search(conn=conn, query=title, limit=1)
    assert [h.paper_id for h in hits] == [item.id]
    return int(paper_pk), user.id, made.subscription_id


def test_new_rows_after_the_copy_get_fresh_keys(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _source(tmp_path, fixture_data)
    with reading(source) as conn:
        before = {
            t.name: conn.execute(sa.select(sa.func.max(t.c.id if t is not papers else t.c.pk))).scalar_one()
            for t in (papers, users, subscriptions)
        }
    pg = create_engine(new_database_url("copy"))
    _assert_verified(dbcopy.copy_database(source=source, target=pg))
    paper_pk, user_id, sub_id = _add_rows(pg, 1)
    assert (paper_pk, user_id, sub_id) == (
        before["papers"] + 1,
        before["users"] + 1,
        before["subscriptions"] + 1,
    )

    back = _sqlite(tmp_path, "back")
    _assert_verified(dbcopy.copy_database(source=pg, target=back))
    assert _add_rows(back, 2) == (paper_pk + 1, user_id + 1, sub_id + 1)


def test_a_rerun_copies_nothing_and_still_verifies(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _source(tmp_path, fixture_data)
    url = new_database_url("copy")
    runner = CliRunner()
    first = runner.invoke(app, ["db", "copy", str(source.url), url, "--batch", "10"])
    assert first.exit_code == 0, first.output
    assert "checksum ok" in first.output and "NO" not in first.output
    again = runner.invoke(app, ["db", "copy", str(source.url), url])
    assert again.exit_code == 0, again.output
    report = dbcopy.copy_database(source=source, target=create_engine(url))
    _assert_verified(report)
    assert sum(t.copied for t in report.tables) == 0
    assert sum(t.target_rows for t in report.tables) > N


def test_an_interrupted_copy_finishes_on_rerun_without_duplicates(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _source(tmp_path, fixture_data)
    pg = create_engine(new_database_url("copy"))

    def crash(table: str, done: int, total: int) -> None:
        if table == "papers":
            raise KeyboardInterrupt  # after the first batch of papers was committed

    with pytest.raises(KeyboardInterrupt):
        dbcopy.copy_database(source=source, target=pg, batch=16, progress=crash)
    assert _count(pg, papers) == 16
    assert _count(pg, embeddings) == 0

    report = dbcopy.copy_database(source=source, target=pg, batch=16)
    _assert_verified(report)
    by_table = {t.table: t for t in report.tables}
    assert by_table["papers"].copied == N + 1 - 16
    assert by_table["embeddings"].copied == N + 1
    with reading(pg) as conn:
        dupes = conn.execute(sa.select(papers.c.id).group_by(papers.c.id).having(sa.func.count() > 1)).all()
    keyword.sync(engine=pg)
    indexed = sorted(keyword.open_index(engine=pg).all_pks().tolist())
    assert dupes == [] and len(indexed) == len(set(indexed)) == N + 1  # each paper in the keyword index once
    assert _top_ids(pg) == _top_ids(source)


def test_a_source_at_an_older_revision_is_refused(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    old = _sqlite(tmp_path, "old")
    upgrade(old, "0005")
    url = new_database_url("copy")
    with pytest.raises(
        dbcopy.CopyRefused, match=r"source database is at revision 0005.*upgrade the source first"
    ):
        dbcopy.copy_database(source=old, target=create_engine(url))
    shown = CliRunner().invoke(app, ["db", "copy", str(old.url), url])
    assert shown.exit_code == 2
    assert "revision 0005" in shown.output
    missing = CliRunner().invoke(app, ["db", "copy", f"sqlite:///{tmp_path / 'nothing.db'}", url])
    assert missing.exit_code == 2 and "no SQLite database" in missing.output
    assert not (tmp_path / "nothing.db").exists()


def test_a_target_with_other_data_is_refused_and_left_alone(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _source(tmp_path, fixture_data)
    pg = create_engine(new_database_url("copy"))
    with transaction(pg) as conn:
        conn.execute(
            ingest_cursors.insert().values(
                source="hf-daily", key="day", value={"other": True}, updated_at=NOW
            )
        )
    with transaction(source) as conn:
        conn.execute(
            ingest_cursors.insert().values(source="hf-daily", key="day", value={"mine": True}, updated_at=NOW)
        )
    with pytest.raises(dbcopy.CopyRefused, match="ingest_cursors already holds a different row"):
        dbcopy.copy_database(source=source, target=pg)
    with reading(pg) as conn:
        assert conn.execute(sa.select(ingest_cursors.c.value)).scalar_one() == {"other": True}
    assert _count(pg, papers) == 0  # refused before any paper was written

    # Same keys, other papers: a paper the target holds under another key is refused too.
    other = create_engine(new_database_url("other"))
    with transaction(other) as conn:
        pipeline.store(
            conn=conn, items=[PaperIn(id="2601.00001", title="Someone else's", source="test")], now=NOW
        )
    with pytest.raises(dbcopy.CopyRefused, match="papers"):
        dbcopy.copy_database(source=source, target=other)

    # A target with more rows than the source holds something the source does not.
    bigger = create_engine(new_database_url("bigger"))
    with transaction(bigger) as conn:
        for key in ("a@example.org", "b@example.org"):
            conn.execute(suppressions.insert().values(email_key=key, reason="bounce", created_at=NOW))
    with pytest.raises(dbcopy.CopyRefused, match="suppressions has more rows than the source"):
        dbcopy.copy_database(source=source, target=bigger)


def test_a_source_changed_during_the_copy_fails_verification(
    tmp_path: Path, fixture_data: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _source(tmp_path, fixture_data)
    pg = create_engine(new_database_url("copy"))

    def meddle(table: str, done: int, total: int) -> None:
        if table == "embeddings" and done == total:  # papers are copied by now: change one behind our back
            with transaction(source) as conn:
                conn.execute(papers.update().where(papers.c.pk == 1).values(hf_upvotes=99))

    report = dbcopy.copy_database(source=source, target=pg, progress=meddle)
    assert not report.ok
    assert [t.table for t in report.tables if not t.ok] == ["papers"]
    [bad] = [t for t in report.tables if not t.ok]
    assert bad.source_rows == bad.target_rows and bad.source_checksum != bad.target_checksum
    # A rerun does not paper over it either: the target holds another version of that row.
    with pytest.raises(dbcopy.CopyRefused, match="papers already holds a different row with key"):
        dbcopy.copy_database(source=source, target=pg)


def test_a_value_postgres_cannot_store_is_refused_clearly(
    tmp_path: Path, new_database_url: Callable[[str], str]
) -> None:
    source = _sqlite(tmp_path, "source")
    upgrade(source)
    with transaction(source) as conn:  # SQLite keeps over-long strings; varchar(32) does not
        conn.execute(suppressions.insert().values(email_key="x@example.org", reason="r" * 40, created_at=NOW))
    with pytest.raises(dbcopy.CopyRefused, match="cannot store a row of suppressions"):
        dbcopy.copy_database(source=source, target=create_engine(new_database_url("copy")))
