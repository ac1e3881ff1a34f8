"""The digest honours "library-based recommendations" off (#13, item 1): the reader's saved and
upvoted papers stop steering "For you" ("like …" picks), while followed authors still reach it."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.library import service
from papertrend.papers import listings, repository
from tests.digest_support import add_subscriber
from tests.integration.library_support import sign_in
from tests.integration.test_digest_foryou import EMAIL, FOLLOWED_PAPER, compose, store  # noqa: F401
from tests.integration.web_support import NOW, SAMPLE_DAY, make_web


def test_library_off_keeps_authors_and_drops_like_picks(store: Engine, settings: Settings) -> None:  # noqa: F811
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
