"""Search as people type it (#14): "did you mean", filters everywhere, results you can scan."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

import hypothesis
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import transaction
from papertrend.papers.tables import papers
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.integration.web_support import TOP_ID, Web, load_papers, make_web, page


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def test_a_misspelled_query_gets_a_did_you_mean_one_click_away(web: Web) -> None:
    html = page(web, "/search?q=agnets+for+coding&mode=keyword")
    assert "Did you mean agents for coding" in html.text
    assert "/search?q=agents+for+coding&mode=keyword&sort=relevance" in html.hrefs()
    response = web.get("/api/papers/search?q=agnets+for+coding&mode=keyword")
    assert response.status_code == 200
    assert unquote(response.headers["x-did-you-mean"]) == "agents for coding"


def test_a_well_spelled_query_gets_no_did_you_mean(web: Web) -> None:
    assert "Did you mean" not in page(web, "/search?q=agents+for+coding&mode=keyword").text
    assert "x-did-you-mean" not in web.get("/api/papers/search?q=agents&mode=keyword").headers


def test_a_query_in_another_language_gets_no_did_you_mean(web: Web) -> None:
    # The corpus's words are English, so their nearest spellings are no corrections of French (the
    # 80k store offered "apprentissage par reinforcement"); the page says to try English instead.
    url = "/search?q=agnets+pour+la+programmation&mode=keyword"
    html = page(web, url).text
    assert "Did you mean" not in html and "looks like French" in html
    assert "x-did-you-mean" not in web.get("/api" + url.replace("/search", "/papers/search")).headers


@pytest.mark.parametrize(
    "typed",
    [
        TOP_ID,
        f"arXiv:{TOP_ID}v2",
        f" https://arxiv.org/abs/{TOP_ID} ",
        f"https://huggingface.co/papers/{TOP_ID}",
        f"https://doi.org/10.48550/arXiv.{TOP_ID}",
    ],
)
def test_an_arxiv_id_typed_into_search_finds_that_paper(web: Web, typed: str) -> None:
    # Researchers paste ids and URLs into search boxes: "2601.19653" was searched as words, and
    # "LongCat-Flash-Thinking-2601" came first while the paper itself was nowhere (#14).
    for mode in ("hybrid", "keyword"):
        response = web.get(f"/search?q={quote(typed)}&mode={mode}&category=cs.ZZ")
        assert response.status_code == 303 and response.headers["location"] == f"/papers/{TOP_ID}"
        found = _json(web, f"/api/papers/search?q={quote(typed)}&mode={mode}")
        assert [f["paper"]["id"] for f in found] == [TOP_ID]
    feed = web.get(f"/feeds/search.atom?q={quote(typed)}").text
    assert feed.count("<entry>") == 1 and TOP_ID in feed


def test_the_empty_search_page_says_what_may_be_typed(web: Web) -> None:
    text = page(web, "/search").text
    assert "Paste an arXiv id or link" in text and "cs.CL agents" in text


def test_an_arxiv_id_not_stored_says_so_and_shows_no_unrelated_papers(web: Web) -> None:
    html = page(web, "/search?q=arXiv%3A2601.19653")
    assert "arXiv:2601.19653 is not stored here" in html.text
    assert "https://arxiv.org/abs/2601.19653" in html.hrefs() and "/library#import" in html.hrefs()
    assert not [h for h in html.hrefs() if h.startswith("/papers/2")]
    assert _json(web, "/api/papers/search?q=2601.19653") == []
    # Words with an id's digits in them are still words.
    assert "is not stored here" not in page(web, "/search?q=agents+2601.19653").text


def test_a_search_for_a_persons_name_links_their_author_page(web: Web) -> None:
    # "yann lecun" listed his papers with nothing to say that the query named a person (#14).
    name = _json(web, f"/api/papers/{TOP_ID}")["authors"][0]["name"]
    html = page(web, f"/search?q={quote(name.lower())}")
    assert f"/authors/{quote(name, safe='')}" in html.hrefs()
    assert f"All papers by {name}" in html.text
    assert "All papers by" not in page(web, "/search?q=agents+for+coding").text


def test_a_category_typed_into_search_becomes_its_filter(web: Web) -> None:
    # "cs.CL" searched as words found papers on quantum CSS codes first on the 80k store (#14).
    alone = web.get("/search?q=cs.CL")
    assert alone.status_code == 303 and alone.headers["location"] == "/papers?category=cs.CL"
    assert page(web, alone.headers["location"]).text
    moved = web.get("/search?q=agents+cs.cl&mode=keyword&category=cs.AI")
    assert moved.status_code == 303
    assert (
        moved.headers["location"]
        == "/search?q=agents&category=cs.AI&category=cs.CL&mode=keyword&sort=relevance"
    )
    assert 'name="category" value="cs.AI, cs.CL"' in web.get(moved.headers["location"]).text
    # Words with a dot or a hyphen that are no category stay words.
    for words in ("state-of-the-art", "GPT-4o fine-tuning", "physics"):
        assert web.get(f"/search?q={quote(words)}&mode=keyword").status_code == 200


def _json(web: Web, url: str, status: int = 200) -> Any:
    response = web.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:300])
    return response.json()


def test_author_filter_in_the_api_the_page_and_the_feed(web: Web) -> None:
    everyone = _json(web, "/api/papers/search?q=agents&mode=keyword&limit=50")
    surname = everyone[-1]["paper"]["authors"][0]["name"].split()[-1]
    found = _json(web, f"/api/papers/search?q=agents&mode=keyword&limit=50&author={surname.upper()}")
    assert 0 < len(found) < len(everyone)
    assert all(any(surname.lower() in a["name"].lower() for a in f["paper"]["authors"]) for f in found)
    html = page(web, f"/search?q=agents&mode=keyword&author={surname}")
    assert len([a for a in html.hrefs() if a.startswith("/papers/2")]) >= len(found)
    feed = web.get(f"/feeds/search.atom?q=agents&mode=keyword&sort=relevance&author={surname}")
    assert feed.status_code == 200
    assert feed.text.count("<entry>") == len(found)
    # The feed's default date sort keeps the relevant ones of them (`service.relevant`, #14).
    newest = web.get(f"/feeds/search.atom?q=agents&mode=keyword&author={surname}").text
    assert 0 < newest.count("<entry>") <= len(found)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        ("/api/papers/search?q=agents&author=Nobody+Zzyzx", "Nobody Zzyzx"),
        ("/api/papers/search?q=agents&category=cs.ZZ", "cs.ZZ"),
        ("/feeds/search.atom?q=agents&author=Nobody+Zzyzx", "Nobody Zzyzx"),
        ("/api/daily_papers?date=2025-03-18&category=cs.ZZ", "cs.ZZ"),
        ("/feeds/daily.atom?date=2025-03-18&category=cs.ZZ", "cs.ZZ"),
        ("/api/trending?category=cs.ZZ", "cs.ZZ"),
        ("/feeds/trending.atom?category=cs.ZZ", "cs.ZZ"),
    ],
)
def test_unknown_filter_values_are_a_clear_400(web: Web, url: str, named: str) -> None:
    response = web.get(url)
    assert response.status_code == 400
    assert named in response.text


def test_unknown_filter_values_are_a_visible_note_on_pages(web: Web) -> None:
    html = page(web, "/search?q=agents&mode=keyword&category=cs.ZZ&author=Nobody+Zzyzx")
    assert "No paper here is in category 'cs.ZZ', so that filter was left out." in html.text
    assert "No paper here has an author named like 'Nobody Zzyzx'" in html.text
    listing = page(web, "/papers?date=2025-03-18&category=cs.ZZ")
    assert "No paper here is in category 'cs.ZZ'" in listing.text
    trending = page(web, "/papers/trending?category=cs.ZZ")
    assert "No paper here is in category 'cs.ZZ'" in trending.text


def test_listings_and_their_feeds_filter_by_category(web: Web) -> None:
    day = _json(web, "/api/daily_papers?date=2025-03-18&limit=100")
    cats = [set(d["paper"]["categories"]) for d in day]
    some = sorted(set.union(*cats), key=lambda c: sum(c in s for s in cats))[0]
    expected = sum(some in s for s in cats)
    assert 0 < expected < len(day)
    only = _json(web, f"/api/daily_papers?date=2025-03-18&limit=100&category={some}")
    assert len(only) == expected and all(some in d["paper"]["categories"] for d in only)
    html = page(web, f"/papers?date=2025-03-18&category={some}")
    assert f"{expected} paper{'s' if expected != 1 else ''} in {some}" in html.text
    assert "/papers?date=2025-03-18" in html.hrefs()  # back to all categories
    feed = web.get(f"/feeds/daily.atom?date=2025-03-18&category={some}")
    assert feed.status_code == 200 and feed.text.count("<entry>") == expected


def test_a_category_listing_opens_on_its_latest_day_and_steps_through_its_days(web: Web) -> None:
    # The store's latest day held only Hugging Face papers (no category yet): "/papers?category=cs.CV"
    # showed that day, empty, and Previous stepped through days without a cs.CV paper.
    html = page(web, "/papers?category=cs.CV")
    assert "21 March 2025" in html.text and "No papers were listed" not in html.text
    assert "/papers?date=2025-03-18&category=cs.CV" in html.hrefs()  # the category's previous day
    assert "/?category=cs.CV" not in html.hrefs()  # this is its latest day
    older = page(web, "/papers?date=2025-03-18&category=cs.CV")
    assert "/papers?date=2025-03-21&category=cs.CV" in older.hrefs() and "/?category=cs.CV" in older.hrefs()
    # The API and the feed open on the category's latest day too, not on the store's empty one.
    listed = _json(web, "/api/daily_papers?category=cs.CV&limit=100")
    assert listed and all("cs.CV" in d["paper"]["categories"] for d in listed)
    assert web.get("/feeds/daily.atom?category=cs.CV").text.count("<entry>") == len(listed)
    # Without a category, Latest is "/" (an empty category list once made it "/?").
    unfiltered = web.get("/papers?date=2025-03-18").text
    assert 'href="/">Latest' in unfiltered and 'href="/?"' not in unfiltered


def test_trending_and_its_feed_filter_by_category(web: Web, engine: Engine) -> None:
    # `?category=` on trending was silently ignored: the page, the API and the feed showed everything.
    week = [d["paper"]["id"] for d in _json(web, "/api/trending?window=week&limit=100")]
    tagged = week[1:3]
    with transaction(engine) as conn:
        conn.execute(sa.update(papers).where(papers.c.id.in_(tagged)).values(categories=["cs.MA"]))
    only = _json(web, "/api/trending?window=week&limit=100&category=cs.MA")
    assert [d["paper"]["id"] for d in only] == tagged  # in their trending order
    html = page(web, "/papers/trending?window=week&category=cs.MA")
    assert "2 papers in cs.MA listed" in html.text
    assert "/papers/trending?window=week&sort=trending" in html.hrefs()  # back to all categories
    assert "/papers/trending?window=month&sort=trending&category=cs.MA" in html.hrefs()
    feed = web.get("/feeds/trending.atom?window=week&category=cs.MA")
    assert feed.status_code == 200 and feed.text.count("<entry>") == 2


# Every new parameter (#14), on pages, the API and feeds: hostile text never makes a 5xx.
HOSTILE_URLS = (
    "/search?q=agents&mode=keyword&author={v}",
    "/search?q={v}&mode=keyword",
    "/search?q={v}&mode=keyword&sort=date",
    "/api/papers/search?q=agents&mode=keyword&author={v}",
    "/api/papers/search?q={v}&mode=keyword",
    "/api/papers/search?q={v}+agents&mode=keyword&sort=date",
    "/feeds/search.atom?q=agents&mode=keyword&author={v}",
    "/papers?date=2025-03-18&category={v}",
    "/api/daily_papers?date=2025-03-18&category={v}",
    "/feeds/daily.atom?date=2025-03-18&category={v}",
    "/papers/trending?category={v}",
    "/api/trending?category={v}",
    "/feeds/trending.atom?category={v}",
)
HOSTILE_TEXT = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            '"a" OR b* NEAR(c d) NOT e:f ^g',  # FTS5 syntax
            "a & !b | c <-> d:*",  # tsquery syntax
            "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd",  # RTL override, Hebrew
            "%_\\",  # LIKE wildcards
            "x" * 10_240,
        ]
    ),
)


@hypothesis.settings(
    max_examples=25, deadline=None, suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture]
)
@given(value=HOSTILE_TEXT, raw=st.sampled_from(["", "%00", "%FF%FE", "%C3%28", "%00%FF"]))
def test_hostile_values_in_new_parameters_are_never_5xx(web: Web, value: str, raw: str) -> None:
    encoded = quote(value, safe="") + raw
    for url in HOSTILE_URLS:
        response = web.get(url.format(v=encoded))
        assert response.status_code < 500, (url, value, raw, response.text[:300])


def test_search_pages_are_numbered_and_the_count_is_true(web: Web) -> None:
    everyone = _json(web, "/api/papers/search?q=agents+models&mode=keyword&limit=100")
    total = len(everyone)
    assert total > 6
    first = web.get("/search?q=agents+models&mode=keyword&limit=3").text
    pages = -(-total // 3)
    assert f"{total} results for <strong>agents models</strong> · page 1 of {pages}." in first
    assert "/search?q=agents+models&amp;mode=keyword&amp;sort=relevance&amp;limit=3&amp;p=1" in first
    second = page(web, "/search?q=agents+models&mode=keyword&limit=3&p=1")
    shown = [h for h in second.hrefs() if h.startswith("/papers/") and h.count("/") == 2]
    expected = [f"/papers/{d['paper']['id']}" for d in everyone[3:6]]
    assert [h for h in dict.fromkeys(shown) if h in expected] == expected
    assert f"page 2 of {pages}" in second.text
    # A page past the last said "No papers match agents models … check the spelling".
    past = page(web, f"/search?q=agents+models&mode=keyword&limit=3&p={pages + 5}")
    assert f"There is no page {pages + 6}" in past.text and "No papers match" not in past.text
    assert "/search?q=agents+models&mode=keyword&sort=relevance&limit=3" in past.hrefs()
    # Newest first orders only the relevant of the top results: "82 results" for a query thousands
    # of papers match read as if those were all of them.
    by_date = _json(web, "/api/papers/search?q=agents+models&mode=keyword&limit=100&sort=date")
    dated = web.get("/search?q=agents+models&mode=keyword&limit=100&sort=date").text
    n = len(by_date)
    said = f"The {n} most relevant result{'s' if n != 1 else ''} for <strong>agents models</strong>"
    assert f"{said}, newest first" in dated


def test_a_query_in_another_language_is_told_so(web: Web) -> None:
    html = page(web, "/search?q=mod%C3%A8les+de+langage+pour+la+traduction&mode=keyword")
    assert "This query looks like French" in html.text
    assert "results for other languages may be poor" in html.text
    response = web.get("/api/papers/search?q=%E5%A4%A7%E8%AF%AD%E8%A8%80%E6%A8%A1%E5%9E%8B&mode=keyword")
    assert response.status_code == 200 and response.headers["x-query-language"] == "Chinese"
    assert "looks like" not in page(web, "/search?q=agents&mode=keyword").text


def test_abs_addresses_lead_to_the_paper_page(web: Web) -> None:
    response = web.get(f"/abs/{TOP_ID}v2")
    assert response.status_code == 308 and response.headers["location"] == f"/papers/{TOP_ID}"
    assert web.get("/abs/not-an-id").status_code in (400, 404)


def test_papers_from_hugging_face_link_there_and_arxiv_only_ones_do_not(web: Web) -> None:
    assert f"https://huggingface.co/papers/{TOP_ID}" in page(web, f"/papers/{TOP_ID}").hrefs()
    arxiv_only = _json(web, "/api/daily_papers?date=2025-03-18&limit=1")[0]["paper"]["id"]
    hrefs = page(web, f"/papers/{arxiv_only}").hrefs()
    assert not any(h.startswith("https://huggingface.co/papers/") for h in hrefs)


def test_feed_entries_are_dated_by_the_paper_not_by_the_ingest(web: Web) -> None:
    feed = web.get("/feeds/daily.atom?date=2025-03-18").text
    updated = re.findall(r"<entry>.*?<updated>([^<]+)</updated>", feed)
    assert updated and all(u.startswith("2025-03") for u in updated), updated


def test_a_phrase_holds_in_the_hybrid_feed_and_page_sorted_by_date(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    # Search by meaning alone found papers near "gaussian splatting" without the phrase (#14).
    load_papers(engine, fixture_data, tmp_path / "data")
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    web = make_web(settings.model_copy(update={"embedding_model": FAST_MODEL}), engine)
    feed = web.get("/feeds/search.atom?q=%22gaussian+splatting%22+-survey")
    assert feed.status_code == 200
    entries = re.findall(r"<entry>.*?</entry>", feed.text, re.S)
    assert entries and all(re.search(r"gaussian\W+splat", e, re.I) for e in entries)
    assert not any(re.search(r"\bsurvey", e, re.I) for e in entries)
    body = web.get("/search?q=%22gaussian+splatting%22&sort=date").text
    results = re.findall(r'<li class="result paper">.*?</li>', body, re.S)
    plain = [re.sub(r"</?mark>", "", r) for r in results]
    assert plain and all(re.search(r"gaussian\W+splat", r, re.I) for r in plain)
    assert "match your words only" not in body
