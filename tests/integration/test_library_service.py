"""The library room on a real database, SQLite and `--db=postgres` (issue #13): collections, moves,
sharing by link, "Your upvotes", "not interested", followed authors, and imports whose unknown arXiv
ids are fetched from a local replay of the arXiv API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.accounts import repository as accounts
from papertrend.db import transaction
from papertrend.errors import BadRequest, InvalidPaperId, NotFound
from papertrend.library import bibtex, csl, imports, service
from papertrend.library import repository as repo
from papertrend.library.tables import collection_papers
from papertrend.papers import repository as papers_repo
from papertrend.papers import votes
from papertrend.papers.models import PaperIn
from tests.fakes import FakeTime
from tests.integration.arxiv_support import API_2026, make_client
from tests.replay import ReplayServer

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)
IDS = ["2401.00001", "2401.00002", "2401.00003", "hep-th/9901001"]


def seed(engine: Engine) -> tuple[int, int]:
    """Two users and four stored papers."""
    with transaction(engine) as conn:
        papers_repo.upsert_many(
            conn=conn,
            items=[
                PaperIn(id=pid, title=f"Paper {i} on diffusion", source="test", authors=["Ada Lovelace"])
                for i, pid in enumerate(IDS)
            ],
            now=NOW,
        )
        ada = accounts.user_for_login(conn=conn, email="ada@example.org", now=NOW).id
        bob = accounts.user_for_login(conn=conn, email="bob@example.org", now=NOW).id
    return ada, bob


def test_save_defaults_to_saved_and_never_twice(engine: Engine) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn:
        first = service.save(conn=conn, user_id=ada, paper_id="arXiv:2401.00001v2", now=NOW)
        again = service.save(conn=conn, user_id=ada, paper_id="https://arxiv.org/abs/2401.00001", now=NOW)
    assert first.name == "Saved" and first.n_papers == 1
    assert again.id == first.id and again.n_papers == 1
    with engine.connect() as conn:
        assert [e.paper_id for e in service.entries(conn=conn, user_id=ada, collection_id=first.id)] == [
            "2401.00001"
        ]


def test_unknown_or_invalid_paper_is_refused(engine: Engine) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn, pytest.raises(NotFound):
        service.save(conn=conn, user_id=ada, paper_id="2402.09999", now=NOW)
    with transaction(engine) as conn, pytest.raises(InvalidPaperId):
        service.save(conn=conn, user_id=ada, paper_id="<script>", now=NOW)


def test_move_rename_delete(engine: Engine) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn:
        saved = service.save(conn=conn, user_id=ada, paper_id=IDS[0], now=NOW)
        later = service.create_collection(conn=conn, user_id=ada, name="  Read   later ", now=NOW)
        service.move(conn=conn, user_id=ada, paper_id=IDS[0], from_id=saved.id, to_id=later.id, now=NOW)
        renamed = service.rename(conn=conn, user_id=ada, collection_id=later.id, name="Weekend")
    assert later.name == "Read later" and renamed.name == "Weekend"
    with engine.connect() as conn:
        counts = {c.name: c.n_papers for c in service.collections(conn=conn, user_id=ada)}
    assert counts == {"Saved": 0, "Weekend": 1}
    with transaction(engine) as conn, pytest.raises(BadRequest, match="already have"):
        service.rename(conn=conn, user_id=ada, collection_id=later.id, name="Saved")
    with transaction(engine) as conn, pytest.raises(NotFound):
        service.move(conn=conn, user_id=ada, paper_id=IDS[1], from_id=saved.id, to_id=later.id, now=NOW)
    with engine.connect() as conn:  # the failed move left nothing behind
        assert service.collection(conn=conn, user_id=ada, collection_id=later.id).n_papers == 1
    with transaction(engine) as conn:
        service.delete(conn=conn, user_id=ada, collection_id=later.id)
    with engine.connect() as conn:
        assert [c.name for c in service.collections(conn=conn, user_id=ada)] == ["Saved"]
        assert conn.execute(sa.select(sa.func.count()).select_from(collection_papers)).scalar_one() == 0
        assert papers_repo.count(conn=conn) == len(IDS)  # papers stay in the store


@pytest.mark.parametrize("name", ["<b>x</b>", "a\x00b", "", "   ", "x" * 201])
def test_bad_collection_names_get_a_clear_message(engine: Engine, name: str) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn, pytest.raises(BadRequest):
        service.create_collection(conn=conn, user_id=ada, name=name, now=NOW)
    with engine.connect() as conn:
        assert service.collections(conn=conn, user_id=ada) == []


def test_collections_are_private_to_their_owner(engine: Engine) -> None:
    ada, bob = seed(engine)
    with transaction(engine) as conn:
        saved = service.save(conn=conn, user_id=ada, paper_id=IDS[0], now=NOW)
    with transaction(engine) as conn:
        for act in (
            lambda: service.entries(conn=conn, user_id=bob, collection_id=saved.id),
            lambda: service.rename(conn=conn, user_id=bob, collection_id=saved.id, name="Mine"),
            lambda: service.delete(conn=conn, user_id=bob, collection_id=saved.id),
            lambda: service.make_public(conn=conn, user_id=bob, collection_id=saved.id),
            lambda: service.save(conn=conn, user_id=bob, paper_id=IDS[1], collection_id=saved.id, now=NOW),
        ):
            with pytest.raises(NotFound):
                act()
    with engine.connect() as conn:
        assert service.collection(conn=conn, user_id=ada, collection_id=saved.id).n_papers == 1


def test_public_link_and_back_to_private(engine: Engine) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn:
        saved = service.save(conn=conn, user_id=ada, paper_id=IDS[2], now=NOW)
        assert saved.public_token is None  # private by default
        token = service.make_public(conn=conn, user_id=ada, collection_id=saved.id)
        assert service.make_public(conn=conn, user_id=ada, collection_id=saved.id) == token
    with engine.connect() as conn:
        shown, entries = service.shared(conn=conn, token=token)
    assert shown.id == saved.id and [e.paper_id for e in entries] == [IDS[2]]
    with transaction(engine) as conn:
        service.make_private(conn=conn, user_id=ada, collection_id=saved.id)
    with engine.connect() as conn, pytest.raises(NotFound):
        service.shared(conn=conn, token=token)


def test_upvotes_and_not_interested_and_library(engine: Engine) -> None:
    ada, bob = seed(engine)
    with transaction(engine) as conn:
        pks = repo.pks_for_ids(conn=conn, paper_ids=IDS)
        conn.execute(
            sa.insert(votes.votes),
            [
                dict(user_id=ada, paper_pk=pks[IDS[0]], created_at=NOW),
                dict(user_id=ada, paper_pk=pks[IDS[1]], created_at=NOW + timedelta(minutes=1)),
                dict(user_id=bob, paper_pk=pks[IDS[2]], created_at=NOW),
            ],
        )
        service.save(conn=conn, user_id=ada, paper_id=IDS[1], now=NOW)
        service.save(conn=conn, user_id=ada, paper_id=IDS[3], now=NOW)
        service.not_interested(conn=conn, user_id=ada, paper_id=IDS[2], now=NOW)
        service.not_interested(conn=conn, user_id=ada, paper_id=IDS[2], now=NOW)
    with engine.connect() as conn:
        assert [e.paper_id for e in service.upvotes(conn=conn, user_id=ada)] == [IDS[1], IDS[0]]
        assert repo.library_pks(conn=conn, user_id=ada) == {pks[IDS[0]], pks[IDS[1]], pks[IDS[3]]}
        assert repo.feedback_pks(conn=conn, user_id=ada, kind=service.NOT_INTERESTED) == {pks[IDS[2]]}
        assert repo.feedback_pks(conn=conn, user_id=bob, kind=service.NOT_INTERESTED) == set()
    with transaction(engine) as conn:
        service.undo_not_interested(conn=conn, user_id=ada, paper_id=IDS[2])
    with engine.connect() as conn:
        assert repo.feedback_pks(conn=conn, user_id=ada, kind=service.NOT_INTERESTED) == set()


def test_follow_authors_by_folded_name(engine: Engine) -> None:
    ada, _ = seed(engine)
    with transaction(engine) as conn:
        service.follow(conn=conn, user_id=ada, name="Ada  Lovelace", now=NOW)
        service.follow(conn=conn, user_id=ada, name="ADA LOVELACE", now=NOW)
        service.follow(conn=conn, user_id=ada, name="Kurt Gödel", now=NOW)
        with pytest.raises(BadRequest):
            service.follow(conn=conn, user_id=ada, name="<img src=x>", now=NOW)
    with engine.connect() as conn:
        assert service.followed_authors(conn=conn, user_id=ada) == ["Ada Lovelace", "Kurt Gödel"]
    with transaction(engine) as conn:
        assert service.unfollow(conn=conn, user_id=ada, name="kurt godel")
    with engine.connect() as conn:
        assert service.followed_authors(conn=conn, user_id=ada) == ["Ada Lovelace"]


def test_import_matches_fetches_and_reports(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    """Stored ids are matched, unknown ones fetched from (a replay of) the arXiv API, the rest reported."""
    ada, _ = seed(engine)
    replay.add(
        "/api/query",
        fixture_data / API_2026 / "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.body.xml",
        query={"id_list": "0808.05394,1707.08567"},
    )
    text = f"""
@article{{stored, title={{Stored}}, eprint={{{IDS[0]}}}, archivePrefix={{arXiv}}}}
@misc{{doi, title={{By DOI}}, doi={{10.48550/arXiv.{IDS[1]}v3}}}}
@article{{gone, title={{Unknown}}, journal={{arXiv preprint arXiv:0808.05394}}}}
@article{{fetch, title={{Fetched}}, url={{https://arxiv.org/abs/1707.08567}}}}
@book{{knuth, title={{The {{\\TeX}}book}}, publisher={{Addison-Wesley}}}}
"""
    with make_client(FakeTime()) as client:
        fetch = imports.arxiv_fetcher(engine=engine, client=client, base_url=f"{replay.url}/api/query")
        report = imports.import_library(
            engine=engine, user_id=ada, data=text.encode(), collection_id=None, fetch=fetch, now=NOW
        )
    assert report.format == "bibtex" and report.entries == 5
    assert report.matched == [IDS[0], IDS[1]]
    assert report.fetched == ["1707.08567"] and report.not_found == ["0808.05394"]
    assert [r.title for r in report.not_arxiv] == ["The \\TeXbook"]  # TeX stays inert text
    assert report.added == 3
    with engine.connect() as conn:
        entries = service.entries(conn=conn, user_id=ada, collection_id=report.collection_id or 0)
        assert {e.paper_id for e in entries} == {IDS[0], IDS[1], "1707.08567"}
        assert papers_repo.get(conn=conn, paper_id="1707.08567") is not None


def test_import_over_the_limit_changes_nothing(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    ada, _ = seed(engine)
    monkeypatch.setattr(service, "MAX_COLLECTION_PAPERS", 2)
    with transaction(engine) as conn:
        saved = service.save(conn=conn, user_id=ada, paper_id=IDS[0], now=NOW)
    with pytest.raises(BadRequest, match="at most 2"):
        imports.import_library(
            engine=engine, user_id=ada, data=" ".join(IDS).encode(), collection_id=None, fetch=None, now=NOW
        )
    with engine.connect() as conn:
        assert service.collection(conn=conn, user_id=ada, collection_id=saved.id).n_papers == 1


def test_export_round_trips_through_import(engine: Engine) -> None:
    """A collection exported as BibTeX and as CSL JSON names the same papers when imported again."""
    ada, _ = seed(engine)
    with transaction(engine) as conn:
        for pid in IDS:
            saved = service.save(conn=conn, user_id=ada, paper_id=pid, now=NOW)
    with engine.connect() as conn:
        ids = [e.paper_id for e in service.entries(conn=conn, user_id=ada, collection_id=saved.id)]
        stored = papers_repo.get_many(conn=conn, paper_ids=ids)
    for module in (bibtex, csl):
        kind, refs = imports.parse(module.dumps(stored).encode())
        assert {str(r.arxiv_id) for r in refs} == set(IDS), kind
