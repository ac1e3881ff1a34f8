"""The bulk upsert's own encoding (papers.bulk, #15) stores and reads exactly what SQLAlchemy does."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading, transaction
from papertrend.papers import bulk, repository
from papertrend.papers.merge import Row, new_row
from papertrend.papers.models import PaperIn
from papertrend.papers.tables import papers

NOW = datetime(2026, 3, 20, 9, 0, tzinfo=UTC)
_STORED = [c for c in papers.columns if c.name not in ("pk", "id")]


def _rows(prefix: str) -> list[Row]:
    full = PaperIn(
        id=f"{prefix}.00001",
        version=3,
        title="Ünïcode “title” — Σ",
        source="jsonl",
        abstract="An abstract.",
        authors=["Ada Lovelace", "Ὀδυσσεύς"],
        categories=["cs.CL", "cs.AI"],
        comment="12 pages",
        journal_ref="J. Ref 1",
        doi="10.1/x",
        license="cc-by",
        # Another zone, no microseconds; a naive time (UTC); microseconds.
        published_at=datetime(2025, 3, 18, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        updated_at=datetime(2025, 3, 19, 1, 2, 3),
        listed_on=date(2025, 3, 19),
        pdf_url="https://arxiv.org/pdf/x",
        code_url="https://github.com/x/y",
        project_url="https://x.example",
        hf_upvotes=7,
        hf_comments=0,
        hf_daily_on=date(2025, 3, 20),
        hf_submitted_at=datetime(2025, 3, 20, 8, 1, 2, 345678, tzinfo=UTC),
        hf_ai_summary="Summary.",
        hf_ai_keywords=["a", "b"],
        hf_submitted_by={"user": "someone", "isPro": True},
        github_stars=12,
    )
    bare = PaperIn(id=f"{prefix}.00002", title="Bare", source="hf-daily", authoritative=False)
    empty = PaperIn(id=f"{prefix}.00003", title="Empty lists", source="jsonl", authors=[], categories=[])
    return [new_row(p, now=NOW) for p in (full, bare, empty)]


def _stored(conn: Connection, ids: list[str]) -> list[tuple[object, ...]]:
    """Every stored column but pk and id, as the database's own text, in the order of `ids`."""
    cols = ", ".join(f"CAST({c.name} AS TEXT)" for c in _STORED)
    found = []
    for pid in ids:
        stmt = sa.text(f"SELECT {cols} FROM papers WHERE id = :id")
        found.append(tuple(conn.execute(stmt, {"id": pid}).one()))
    return found


def test_bulk_insert_and_update_store_what_sqlalchemy_stores(engine: Engine) -> None:
    core, fast = _rows("2503"), _rows("2504")
    with transaction(engine) as conn:
        conn.execute(papers.insert(), core)
        bulk.insert(conn, fast)
        core_ids, fast_ids = [r["id"] for r in core], [r["id"] for r in fast]
        assert _stored(conn, core_ids) == _stored(conn, fast_ids)
        # Then each row becomes the next one's values: updated by SQLAlchemy and by bulk.update.
        changed = [{**nxt, "id": row["id"]} for row, nxt in zip(core, [*core[1:], core[0]], strict=True)]
        settable = [c.name for c in _STORED]
        stmt = (
            papers.update()
            .where(papers.c.id == sa.bindparam("_id"))
            .values({n: sa.bindparam(n) for n in settable})
        )
        conn.execute(stmt, [{"_id": r["id"], **{n: r[n] for n in settable}} for r in changed])
        bulk.update(conn, [{**r, "id": f["id"]} for r, f in zip(changed, fast, strict=True)])
        assert _stored(conn, core_ids) == _stored(conn, fast_ids)
        assert _stored(conn, core_ids) != _stored(conn, [*core_ids[1:], core_ids[0]])


def test_bulk_reads_rows_as_sqlalchemy_reads_them(engine: Engine) -> None:
    rows = _rows("2505")
    with transaction(engine) as conn:
        bulk.insert(conn, rows)
    ids = [r["id"] for r in rows]
    with reading(engine) as conn:
        fast = bulk.rows_by_id(conn, [*ids, "2505.99999"])
        core = {
            r["id"]: dict(r) for r in conn.execute(sa.select(papers).where(papers.c.id.in_(ids))).mappings()
        }
        pks = bulk.pks_by_id(conn, ids)
    assert fast == core
    assert pks == {pid: row["pk"] for pid, row in core.items()}
    # What was written is what is read, the JSON gaps included (None is stored as JSON 'null'), and a
    # naive time as UTC.
    for row in rows:
        aware = {
            k: v.replace(tzinfo=UTC) if isinstance(v, datetime) and not v.tzinfo else v
            for k, v in row.items()
        }
        assert {k: v for k, v in fast[row["id"]].items() if k != "pk"} == aware


def test_author_names_lowers_each_name_as_before() -> None:
    # The one case where lower-casing looks at neighbours: a final sigma (ς) ends a word.
    authors = ["ΟΔΥΣΣΕΥΣ", "ΣΑΣ Βασ", "Ada LOVELACE", "İnan"]
    assert repository.author_names(authors) == "\n".join(a.lower() for a in authors)
    assert repository.author_names(authors).splitlines()[0] == "οδυσσευς"
    assert repository.author_names(None) == repository.author_names([]) == ""


def _by_author(conn: Connection, name: str) -> list[str]:
    stmt = sa.select(papers.c.id).where(repository.by_authors([name])).order_by(papers.c.id)
    return list(conn.execute(stmt).scalars())


def test_upsert_many_keeps_the_author_index_and_counts_true(engine: Engine) -> None:
    first = PaperIn(id="2506.00001", version=1, title="T", source="jsonl", authors=["Ada Lovelace"])
    other = PaperIn(id="2506.00002", version=1, title="U", source="jsonl", authors=["Alan Turing"])
    with transaction(engine) as conn:
        counts = repository.upsert_many(conn=conn, items=[first, other], now=NOW)
        assert (counts.added, counts.updated, counts.unchanged) == (2, 0, 0)
        assert {r["id"]: r["pk"] for r in counts.changed_rows} == bulk.pks_by_id(conn, [first.id, other.id])
    total = repository.UpsertCounts()
    total += counts  # a running total keeps counts and ids, not every row
    assert (total.added, total.changed_ids, total.changed_rows) == (2, [first.id, other.id], [])
    # A newer version with other authors, twice in one batch, and the other paper again unchanged.
    renamed = PaperIn(id="2506.00001", version=2, title="T", source="jsonl", authors=["Grace Hopper"])
    with transaction(engine) as conn:
        counts = repository.upsert_many(
            conn=conn, items=[renamed, other, renamed], now=NOW + timedelta(days=1)
        )
        assert (counts.added, counts.updated, counts.unchanged) == (0, 1, 1)
        assert [r["authors"] for r in counts.changed_rows] == [["Grace Hopper"]]
    with transaction(engine) as conn:
        again = repository.upsert_many(conn=conn, items=[renamed, other], now=NOW + timedelta(days=2))
        assert (again.added, again.updated, again.unchanged, again.changed_rows) == (0, 0, 2, [])
        assert _by_author(conn, "hopper") == ["2506.00001"]
        assert _by_author(conn, "lovelace") == []
        assert _by_author(conn, "turing") == ["2506.00002"]
        stored = bulk.rows_by_id(conn, ["2506.00001"])["2506.00001"]
    assert (stored["version"], stored["changed_at"], stored["first_seen_at"]) == (
        2,
        NOW + timedelta(days=1),
        NOW,
    )


def test_an_author_page_finds_every_paper_of_the_name_among_thousands_of_near_names(engine: Engine) -> None:
    # The author page pre-filtered papers whose author list held each word of the name anywhere,
    # newest first, at most 2,000: "song" and "han" are in thousands of other names (Mei Song, Li
    # Hanwen, Zhang), so an older paper by Song Han fell past the cut and the page missed it.
    from papertrend.web.foryou import author_papers

    def listed(key: str, authors: list[str], day: date) -> PaperIn:
        return PaperIn(id=key, version=1, title=key, source="jsonl", authors=authors, listed_on=day)

    near = [listed(f"2507.{n:05d}", ["Mei Song", "Li Hanwen"], date(2025, 7, 20)) for n in range(1, 2_101)]
    own = [listed(f"2401.{n:05d}", ["Ada Lovelace", "Song Han"], date(2024, 1, 10 + n)) for n in range(1, 4)]
    accented = PaperIn(id="2402.00001", version=1, title="A", source="jsonl", authors=["José García"])
    with transaction(engine) as conn:
        repository.upsert_many(conn=conn, items=[*near, *own, accented], now=NOW)
    with reading(engine) as conn:
        assert [p.id for p in author_papers(conn, "song han", 100)] == [
            "2401.00003",
            "2401.00002",
            "2401.00001",
        ]
        assert [p.id for p in author_papers(conn, "José García", 100)] == ["2402.00001"]
        assert author_papers(conn, "Han Song", 100) == []
