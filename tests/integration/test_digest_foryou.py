"""The digest's "For you" from the library (#13): a subscriber who signed in with the same address
gets picks from their library and followed authors, each with its reason, never a paper of their
library; the email's "Not interested" link shows a page, acts only on POST, and the paper is gone
from the next edition; with "library-based recommendations" off, the library stops steering it while
followed authors still reach it."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.cli import digest_app
from papertrend.digest.compose import Composer
from papertrend.digest.foryou import LibraryRecommender
from papertrend.digest.ranking import keyword_ranker
from papertrend.library import repository as library_repo
from papertrend.library import service
from papertrend.papers import listings, repository
from papertrend.papers.models import Paper
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.digest_support import add_subscriber
from tests.integration.library_support import sign_in
from tests.integration.web_support import NOW, SAMPLE_DAY, TOP_ID, Web, load_papers, make_web, parse_html

EMAIL = "reader@example.org"
FOLLOWED_PAPER = "2608.13210"  # 1 upvote: not in Trending, where it would be taken first


@pytest.fixture
def store(engine: Engine, fixture_data: Path, tmp_path: Path) -> Engine:
    load_papers(engine, fixture_data, tmp_path / "data")
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    return engine


def compose(engine: Engine, sub: subs.Subscription) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    composer = Composer(
        engine=engine,
        ranker=keyword_ranker(engine),
        recommender=LibraryRecommender(engine=engine, embedder=get_embedder(FAST_MODEL)),
    )
    made = composer.compose(
        sub=sub, edition_date=SAMPLE_DAY, since=SAMPLE_DAY - timedelta(days=6), sent=set()
    )
    return made.trending, made.for_you


def follow_an_author(store: Engine, settings: Settings) -> tuple[Web, int, Paper]:
    """EMAIL signed in, following the first author of FOLLOWED_PAPER: the web client, user id, paper."""
    web = make_web(settings, store)
    uid = sign_in(web, store, EMAIL)
    with reading(store) as conn:
        followed = repository.get(conn=conn, paper_id=FOLLOWED_PAPER)
    assert followed is not None
    with transaction(store) as conn:
        service.follow(conn=conn, user_id=uid, name=followed.authors[0], now=NOW)
    return web, uid, followed


def test_library_and_followed_authors_reach_the_digest_with_reasons(
    store: Engine, settings: Settings
) -> None:
    sub = add_subscriber(store, EMAIL, confirmed_at=NOW, prefs=subs.Preferences())
    # A subscriber with no account, no topics and no library gets no "For you" at all: no padding.
    assert compose(store, sub)[1] == ()
    _, uid, followed = follow_an_author(store, settings)
    with transaction(store) as conn:
        service.save(conn=conn, user_id=uid, paper_id=TOP_ID, now=NOW)
    _, for_you = compose(store, sub)
    picks = dict(for_you)
    assert picks.get(FOLLOWED_PAPER) == f"by {followed.authors[0]}"
    assert TOP_ID not in picks  # never a paper already in the library
    assert all(why.startswith(("like ", "by ", "matches ")) for why in picks.values())
    assert len(picks) == len(for_you)  # never a paper twice


def test_not_interested_link_shows_a_page_and_acts_on_post(store: Engine, settings: Settings) -> None:
    sub = add_subscriber(store, EMAIL, confirmed_at=NOW, prefs=subs.Preferences())
    web, uid, followed = follow_an_author(store, settings)
    assert FOLLOWED_PAPER in dict(compose(store, sub)[1])

    token = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="not_interested")
    path = f"/not-interested/{token}/{FOLLOWED_PAPER}"
    stranger = Web(web.app)  # the mail is opened in a browser that is not signed in
    for _ in range(2):  # a mail scanner's GETs change nothing
        shown = stranger.get(path)
        assert shown.status_code == 200 and followed.title in parse_html(shown.text).text
    with reading(store) as conn:
        assert not library_repo.feedback_pks(conn=conn, user_id=uid, kind=service.NOT_INTERESTED)
    done = stranger.submit(path)
    assert done.status_code == 200 and "Done" in done.text
    with reading(store) as conn:
        assert library_repo.feedback_pks(conn=conn, user_id=uid, kind=service.NOT_INTERESTED)
    assert FOLLOWED_PAPER not in dict(compose(store, sub)[1])
    # A forged or cut-short token is a clear 404, never a 5xx.
    assert stranger.get(f"/not-interested/{sub.id}.forged/{FOLLOWED_PAPER}").status_code == 404
    manage = subs.link_token(secret=settings.secret_key, subscription=sub, purpose="manage")
    assert stranger.get(f"/not-interested/{manage}/{FOLLOWED_PAPER}").status_code == 404


def test_the_preview_shows_the_picks_the_run_sends(
    store: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `digest preview` built its composer without the recommender: it showed topic searches padding
    # "For you" ("Because you follow …", off topic) while `digest run` sent the library's picks.
    monkeypatch.setenv("PAPERTREND_EMBEDDING_MODEL", FAST_MODEL)
    add_subscriber(store, EMAIL, confirmed_at=NOW, prefs=subs.Preferences(topics=("agents",)))
    _, _, followed = follow_an_author(store, settings)
    day = followed.listing_day
    shown = CliRunner().invoke(digest_app, ["preview", EMAIL, "--now", f"{day}T23:00:00+00:00"])
    assert shown.exit_code == 0, shown.output
    assert f"By {followed.authors[0]}" in shown.output
    assert "Because you follow" not in shown.output


def test_library_off_keeps_authors_and_drops_like_picks(store: Engine, settings: Settings) -> None:
    sub = add_subscriber(store, EMAIL, confirmed_at=NOW, prefs=subs.Preferences())
    uid = sign_in(make_web(settings, store), store, EMAIL)
    with reading(store) as conn:
        followed = repository.get(conn=conn, paper_id=FOLLOWED_PAPER)
        day = listings.papers_for_days(conn=conn, start=SAMPLE_DAY, end=SAMPLE_DAY, limit=6)
    assert followed is not None and day
    with transaction(store) as conn:
        for paper in day[:6]:
            service.save(conn=conn, user_id=uid, paper_id=paper.id, now=NOW)
        service.follow(conn=conn, user_id=uid, name=followed.authors[0], now=NOW)
    on = dict(compose(store, sub)[1])
    assert any(why.startswith("like ") for why in on.values()), on
    assert on.get(FOLLOWED_PAPER) == f"by {followed.authors[0]}"

    with transaction(store) as conn:
        subs.update_preferences(
            conn=conn, subscription_id=sub.id, prefs=replace(sub.prefs, use_library=False), now=NOW
        )
        off_sub = subs.get(conn=conn, subscription_id=sub.id)
    assert off_sub is not None and not off_sub.prefs.use_library
    off = dict(compose(store, off_sub)[1])
    assert not any(why.startswith("like ") for why in off.values()), off
    assert off.get(FOLLOWED_PAPER) == f"by {followed.authors[0]}"
