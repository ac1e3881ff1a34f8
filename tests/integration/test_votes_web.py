"""Upvotes here: one per person, toggled by the page's button or the script's JSON, counted in listings,
trending and the API, in-process (issue #4, part 2)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.papers.tables import votes
from tests.integration.accounts_support import LIKED, OTHER, add_two_papers, count, make, sign_in_by_mail
from tests.integration.mail_support import NOW, Clock
from tests.integration.web_support import Web, page


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def web(settings: Settings, engine: Engine, clock: Clock) -> Web:
    add_two_papers(engine)
    return make(settings, engine, clock)


def shown_votes(web: Web, paper_id: str) -> tuple[str, str]:
    """(label, count) of the paper page's upvote button."""
    html = web.get(f"/papers/{paper_id}").text
    button = html.split('class="upvote-form"', 1)[1].split("</form>", 1)[0]
    label = button.split('class="label">', 1)[1].split("<", 1)[0]
    number = button.split('class="vote-count">', 1)[1].split("<", 1)[0]
    return label, number


def test_an_upvote_toggles_and_counts_once_per_person(web: Web, settings: Settings, engine: Engine) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    assert shown_votes(web, LIKED) == ("Upvote", "5")
    # The page's button says what it will do (vote=1); a double submit cannot undo itself.
    for _ in range(2):
        response = web.submit(f"/papers/{LIKED}/upvote", {"vote": "1"}, page=f"/papers/{LIKED}")
        assert response.status_code == 303 and response.headers["location"] == f"/papers/{LIKED}"
    assert count(engine, votes) == 1
    assert shown_votes(web, LIKED) == ("Upvoted", "6")
    assert any(
        i.get("name") == "vote" and i.get("value") == "0" for i in page(web, f"/papers/{LIKED}").inputs
    )
    # Listings and the API count it too.
    assert web.get(f"/api/papers/{LIKED}").json()["upvotes"] == 6
    assert web.get(f"/api/papers/{LIKED}").json()["hfUpvotes"] == 5
    web.submit(f"/papers/{LIKED}/upvote", {"vote": "0"}, page=f"/papers/{LIKED}")
    assert count(engine, votes) == 0 and shown_votes(web, LIKED) == ("Upvote", "5")
    # Without `vote` the button flips: on, then off.
    web.submit(f"/papers/{LIKED}/upvote", page=f"/papers/{LIKED}")
    assert count(engine, votes) == 1
    web.submit(f"/papers/{LIKED}/upvote", page=f"/papers/{LIKED}")
    assert count(engine, votes) == 0


def test_concurrent_double_posts_store_one_vote(web: Web, settings: Settings, engine: Engine) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    token = web.csrf(f"/papers/{LIKED}")
    codes: list[int] = []

    def post() -> None:
        codes.append(web.post(f"/papers/{LIKED}/upvote", data={"vote": "1", "csrf_token": token}).status_code)

    threads = [threading.Thread(target=post) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [303] * 4 and count(engine, votes) == 1


def test_votes_here_rank_listings_and_trending(
    web: Web, settings: Settings, engine: Engine, clock: Clock
) -> None:
    def order(url: str) -> list[str]:
        return [i["id"] if "id" in i else i["paper"]["id"] for i in web.get(url).json()]

    assert order("/api/trending?sort=upvotes") == [OTHER, LIKED]
    assert order("/api/daily_papers?sort=upvotes") == [OTHER, LIKED]
    for email in ("a@example.org", "b@example.org"):
        reader = make(settings, engine, clock)
        sign_in_by_mail(reader, settings, email)
        assert reader.submit(f"/papers/{LIKED}/upvote", {"vote": "1"}, page="/").status_code == 303
    # 5 + 2 here > 6: our votes move the paper up everywhere that ranks by votes.
    assert order("/api/trending?sort=upvotes") == [LIKED, OTHER]
    assert order("/api/trending?sort=trending") == [LIKED, OTHER]
    assert order("/api/daily_papers?sort=upvotes") == [LIKED, OTHER]
    home = page(web, "/")
    assert "▲ 7" in home.text
    trending = page(web, "/papers/trending")
    ids = [a["href"] for a in trending.anchors if a.get("href", "").startswith("/papers/2606.")]
    assert ids[0] == f"/papers/{LIKED}"


def test_listing_buttons_show_your_own_votes_and_come_back_to_the_listing(
    web: Web, settings: Settings, engine: Engine
) -> None:
    sign_in_by_mail(web, settings, "ada@example.org")
    response = web.submit(
        f"/papers/{OTHER}/upvote", {"vote": "1", "next": "/papers/trending"}, page="/papers/trending"
    )
    assert response.status_code == 303 and response.headers["location"] == "/papers/trending"
    html = web.get("/papers/trending").text
    other_card = html.split(f'action="/papers/{OTHER}/upvote"', 1)[1].split("</form>", 1)[0]
    liked_card = html.split(f'action="/papers/{LIKED}/upvote"', 1)[1].split("</form>", 1)[0]
    assert 'aria-pressed="true"' in other_card and 'aria-pressed="false"' in liked_card


def test_json_upvotes_for_the_script(web: Web, settings: Settings, engine: Engine) -> None:
    headers = {"accept": "application/json"}
    out = web.submit(f"/papers/{LIKED}/upvote", page=f"/papers/{LIKED}", headers=headers)
    assert out.status_code == 401 and out.json()["error"]["login"] == f"/login?next=%2Fpapers%2F{LIKED}"
    sign_in_by_mail(web, settings, "ada@example.org")
    on = web.submit(f"/papers/{LIKED}/upvote", {"vote": "1"}, page=f"/papers/{LIKED}", headers=headers)
    assert on.json() == {"id": LIKED, "upvoted": True, "upvotes": 6}
    off = web.submit(f"/papers/{LIKED}/upvote", page=f"/papers/{LIKED}", headers=headers)
    assert off.json() == {"id": LIKED, "upvoted": False, "upvotes": 5}
    assert web.submit("/papers/2606.09999/upvote", page="/", headers=headers).status_code == 404
