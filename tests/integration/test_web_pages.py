"""The web pages, in-process through httpx.ASGITransport, each test its own database (issue #4).
What the web tests share is in web_support.py."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from papertrend.web.app import create_app
from tests.integration.web_support import (
    ARXIV_PER_DAY,
    HOSTILE_ABSTRACT,
    HOSTILE_AUTHOR,
    HOSTILE_ID,
    HOSTILE_TITLE,
    NOW,
    OLD_DAY,
    OLD_ID,
    TOP_ID,
    Html,
    Web,
    load_papers,
    make_web,
    page,
    parse_html,
)


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


@pytest.fixture
def empty_web(settings: Settings, engine: Engine) -> Web:
    return make_web(settings, engine)


# ------------------------------------------------------------------------------------------ daily pages


def test_home_lists_the_latest_day_most_upvoted_first(web: Web) -> None:
    html = page(web, "/")
    assert "Friday, 21 August 2026" in html.text
    assert "18 papers" in html.text  # 17 real ones and the hostile one
    titles = [a["href"] for a in html.anchors if a.get("href", "").startswith("/papers/2608.")]
    assert titles[0] == f"/papers/{TOP_ID}"
    # Title, shortened authors, start of the abstract, upvotes, links to arXiv, PDF and code.
    assert "EnvHarness: Awakening Static Worlds for Agent Learning" in html.text
    # The first three authors link to their pages (#13), then how many more.
    assert {"/authors/Chengsong%20Huang", "/authors/Zifeng%20Wang", "/authors/Rujun%20Han"} <= set(
        html.hrefs()
    )
    assert "Rujun Han and 14 more" in html.text
    # On an author's page their own name shows even when it falls past the first three.
    tenth = web.get(f"/api/papers/{TOP_ID}").json()["authors"][9]["name"]
    theirs = page(web, f"/authors/{quote(tenth, safe='')}")
    assert f"Rujun Han , …, {tenth} and 13 more" in theirs.text  # the text of each link, spaced
    assert "LLM agents learn by interacting with environments" in html.text
    assert "▲ 163" in html.text
    hrefs = html.hrefs()
    assert f"https://arxiv.org/abs/{TOP_ID}" in hrefs
    assert f"https://arxiv.org/pdf/{TOP_ID}" in hrefs
    assert "https://github.com/google-research/envharness" in hrefs
    # The abstract is cut to its first lines, not shown whole.
    assert "…" in html.text


def test_every_page_has_the_banner_the_search_box_and_alternates(web: Web) -> None:
    for url in (
        "/",
        "/papers?week=2026-W34",
        "/papers/trending",
        f"/papers/{TOP_ID}",
        "/search?q=agents&mode=keyword",
    ):
        html = page(web, url)
        assert "Get trending papers in your email inbox once a day!" in html.text, url
        assert any(f.get("action") == "/subscribe" and f.get("method") == "post" for f in html.forms), url
        assert any(i.get("type") == "email" and i.get("name") == "email" for i in html.inputs), url
        assert any(f.get("action") == "/search" and f.get("method") == "get" for f in html.forms), url
        assert html.alternates("application/json"), url
        assert html.alternates("application/atom+xml"), url


def test_prev_and_next_skip_days_without_papers(web: Web) -> None:
    html = page(web, "/papers?date=2025-03-18")
    assert "/papers?date=2025-03-21" in html.hrefs()  # 19 and 20 have none
    assert "No earlier papers" in html.text
    html = page(web, "/papers?date=2025-03-21")
    assert "/papers?date=2025-03-18" in html.hrefs()
    assert f"/papers?date={OLD_DAY}" in html.hrefs()
    html = page(web, "/")
    assert f"/papers?date={OLD_DAY}" in html.hrefs()
    assert "No later papers" in html.text


def test_week_and_month_listings(web: Web) -> None:
    week = page(web, "/papers?week=2026-W34")  # Mon 17 – Sun 23 August 2026
    assert "Week 2026-W34" in week.text
    assert "19 papers" in week.text
    assert f"/papers/{OLD_ID}" in week.hrefs()
    assert "/papers?week=2025-W12" in week.hrefs()  # the previous week that has papers
    month = page(web, "/papers?month=2025-03")
    assert "March 2025" in month.text
    assert f"{2 * ARXIV_PER_DAY} papers" in month.text
    assert "/papers?month=2026-08" in month.hrefs()
    # "/" is the same listing: its month was silently ignored (the latest day was shown).
    assert "March 2025" in page(web, "/?month=2025-03").text
    assert "is not a month" in page(web, "/?month=2025-1x", status=400).text


def test_a_day_without_papers_says_so_and_links_onwards(web: Web) -> None:
    html = page(web, "/papers?date=2025-03-19")
    assert "No papers were listed on Wednesday, 19 March 2025" in html.text
    assert "/papers?date=2025-03-18" in html.hrefs() and "/papers?date=2025-03-21" in html.hrefs()
    past = page(web, "/papers?date=2025-03-18&p=7")
    assert "There is no page 8: the" in past.text and "No papers were listed" not in past.text
    assert "/papers?date=2025-03-18" in past.hrefs()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2026-13-01", "is not a date"),
        ("week=2026-W60", "is not an ISO week"),
        ("month=2026-1x", "is not a month"),
        ("date=2026-08-21&week=2026-W34", "only one of date, week or month"),
        ("p=-1", "Invalid parameters"),
    ],
)
def test_bad_listing_parameters_are_400_pages(web: Web, query: str, message: str) -> None:
    status = 422 if query.startswith("p=") else 400
    html = page(web, f"/papers?{query}", status=status)
    assert message in html.text


def test_empty_store_tells_how_to_load_papers(empty_web: Web) -> None:
    for url in ("/", "/papers/trending"):
        html = page(empty_web, url)
        assert "No papers yet" in html.text
        assert "papertrend ingest jsonl FILE" in html.text
        assert "papertrend ingest sample" in html.text
    assert "Get trending papers in your email inbox once a day!" in page(empty_web, "/").text


# ---------------------------------------------------------------------------------------------- trending


def _ranked_ids(html: Html) -> list[str]:
    ids = [
        a["href"].removeprefix("/papers/") for a in html.anchors if a.get("href", "").startswith("/papers/26")
    ]
    return list(dict.fromkeys(ids))


def test_trending_ranks_fresh_votes_above_old_ones_and_explains_the_formula(web: Web) -> None:
    html = page(web, "/papers/trending?window=week")
    assert "(votes + 1) ÷ (hours since it was listed + 2)^1.8" in html.text
    ids = _ranked_ids(html)
    assert ids[0] == TOP_ID
    # 300 votes 4 days old rank below fresh papers with a tenth of that, above fresh ones with few.
    assert ids.index("2608.20202") < ids.index(OLD_ID) < ids.index("2608.14022")  # 24 and 12 votes
    by_votes = _ranked_ids(page(web, "/papers/trending?window=week&sort=upvotes"))
    assert by_votes[:2] == [OLD_ID, TOP_ID]
    newest = _ranked_ids(page(web, "/papers/trending?window=week&sort=newest"))
    assert newest[-1] == OLD_ID


def test_trending_windows_and_sort_switch(web: Web) -> None:
    day = page(web, "/papers/trending")
    assert OLD_ID not in _ranked_ids(day)
    assert "/papers/trending?window=week&sort=trending" in day.hrefs()
    assert "/papers/trending?window=day&sort=upvotes" in day.hrefs()
    assert "/papers/trending?window=day&sort=newest" in day.hrefs()
    month = page(web, "/papers/trending?window=month")
    assert OLD_ID in _ranked_ids(month)
    assert "2503.11731" not in _ranked_ids(month)
    past = page(web, "/papers/trending?window=month&p=40")
    assert "There is no page 41: the ranking fills 1 page." in past.text
    assert "/papers/trending?window=month&sort=trending" in past.hrefs()
    page(web, "/papers/trending?window=year", status=422)
    page(web, "/papers/trending?sort=random", status=422)


# ------------------------------------------------------------------------------------------- one paper


def test_paper_page_shows_everything_known(web: Web) -> None:
    html = page(web, f"/papers/{TOP_ID}")
    text = html.text
    assert "EnvHarness: Awakening Static Worlds for Agent Learning" in text
    assert "Chengsong Huang" in text and "14 more" not in text  # all authors, not shortened
    assert "LLM agents learn by interacting with environments" in text and "…" not in text
    for label in (
        "Hugging Face upvotes 163",
        "GitHub stars 8",
        "On Hugging Face daily 2026-08-21",
        "Published 2026-08-20",
    ):
        assert label in text
    assert "Similar papers" in text
    hrefs = html.hrefs()
    for href in (
        f"https://arxiv.org/abs/{TOP_ID}",
        f"https://arxiv.org/pdf/{TOP_ID}",
        "https://github.com/google-research/envharness",
        "https://envharness.com/",
    ):
        assert href in hrefs
    assert any(
        f.get("action") == f"/papers/{TOP_ID}/upvote" and f.get("method") == "post" for f in html.forms
    )
    assert html.alternates("application/json") == [f"/api/papers/{TOP_ID}"]


def test_arxiv_paper_shows_categories(web: Web) -> None:
    text = page(web, "/papers/2503.11731").text
    assert "Categories cs.CV, cs.RO" in text
    assert "Listed on arXiv 2025-03-18" in text


def test_paper_spellings_redirect_and_unknown_ids_are_errors(web: Web) -> None:
    response = web.get(f"/papers/{TOP_ID}v2")
    assert response.status_code == 308 and response.headers["location"] == f"/papers/{TOP_ID}"
    html = page(web, "/papers/2601.00001", status=404)
    assert "No paper 2601.00001 is stored here yet" in html.text
    assert "not an arXiv id" in page(web, "/papers/not-a-paper", status=400).text


def test_upvote_signed_out_leads_to_sign_in_and_back(web: Web) -> None:
    response = web.submit(f"/papers/{TOP_ID}/upvote", page=f"/papers/{TOP_ID}")
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next=%2Fpapers%2F{TOP_ID}"
    html = page(web, response.headers["location"])
    assert "Sign in" in html.text and any(f.get("action") == "/login" for f in html.forms)
    assert f"/papers/{TOP_ID}" in html.hrefs()
    assert any(i.get("name") == "next" and i.get("value") == f"/papers/{TOP_ID}" for i in html.inputs)
    # Only local paths are offered as the way back.
    assert "//evil.example" not in page(web, "/login?next=//evil.example").hrefs()
    assert web.get(f"/papers/{TOP_ID}/upvote").status_code == 400  # GET never votes


def test_subscribe_banner_posts_to_the_subscription_flow(web: Web) -> None:
    html = page(web, "/")
    assert any(f.get("action") == "/subscribe" for f in html.forms)
    response = web.submit("/subscribe", {"email": "reader@example.org"}, page="/")
    assert response.status_code == 200
    assert "Check your inbox" in parse_html(response.text).text


# ---------------------------------------------------------------------------------------------- search


def test_search_empty_state_helps(web: Web) -> None:
    html = page(web, "/search")
    assert "Search by meaning, not only by words" in html.text
    assert any(h.startswith("/search?q=") for h in html.hrefs())


def test_keyword_search_shows_marked_titles_and_the_first_lines_of_abstracts(web: Web) -> None:
    body = web.get("/search?q=SWE-bench+science+coding+agents&mode=keyword").text
    # Matched words marked (#14), a hyphenated word as one, the rest of a long abstract behind "more"
    # (no script needed).
    assert "<mark>SWE-bench</mark> <mark>Science</mark>: Can <mark>Coding</mark>" in body
    assert '<details class="more"><summary>more</summary>' in body
    assert 'class="votes upvote-form" action="/papers/2608.19799/upvote"' in body
    html = parse_html(body)
    assert "/papers/2608.19799" in html.hrefs()
    assert "results for SWE-bench science coding agents" in html.text
    assert any(
        h.startswith("/feeds/search.atom?q=SWE-bench") for h in html.alternates("application/atom+xml")
    )


def test_search_filters_and_no_result_state(web: Web) -> None:
    listed = page(web, "/search?q=gaussian+splatting&mode=keyword&category=cs.CV")
    assert "/papers/2503.11731" in listed.hrefs()
    none = page(web, "/search?q=gaussian+splatting&mode=keyword&until=2025-03-01")
    assert "No papers match" in none.text
    assert "/search?q=gaussian+splatting&mode=keyword" in none.hrefs()  # the same search, unfiltered
    assert "/papers/2503.11731" not in none.hrefs()
    nothing = page(web, "/search?q=zzyzxqq&mode=keyword")
    assert "No papers match" in nothing.text and "without the filters" not in nothing.text
    assert "is not a date" in page(web, "/search?q=x&since=yesterday", status=400).text
    assert "is not an arXiv category" in page(web, "/search?q=x&category=<b>", status=400).text


def test_search_falls_back_to_keywords_when_the_model_cannot_load(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    load_papers(engine, fixture_data, tmp_path / "data")
    web = make_web(settings.model_copy(update={"embedding_model": "no-such-model"}), engine)
    html = page(web, "/search?q=SWE-bench+science")
    assert "/papers/2608.19799" in html.hrefs()
    assert "match your words only" in html.text


def test_hybrid_search_and_similar_papers_with_the_fast_model(
    settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path
) -> None:
    # The fast model ships in a dependency: failing to load it here is a failure, not a skip.
    embedder = get_embedder(FAST_MODEL)
    load_papers(engine, fixture_data, tmp_path / "data")
    embed_missing(engine=engine, embedder=embedder)
    web = make_web(settings.model_copy(update={"embedding_model": FAST_MODEL}), engine)
    html = page(web, "/search?q=can+coding+agents+reproduce+scientific+software")
    assert "match your words only" not in html.text
    assert "/papers/2608.19799" in html.hrefs()
    paper = page(web, f"/papers/{TOP_ID}")
    assert "None yet" not in paper.text
    similar = [h for h in paper.hrefs() if h.startswith("/papers/") and h != f"/papers/{TOP_ID}"]
    assert similar


def test_pages_never_load_a_model(web: Web) -> None:
    for url in ("/", "/papers/trending", f"/papers/{TOP_ID}", "/search", "/search?q=agents&mode=keyword"):
        page(web, url)
    holder = web.app.state.papertrend.search
    assert holder._searcher is None and holder.unavailable is None


# -------------------------------------------------------------------------------------------- safety


def test_text_from_sources_is_escaped_everywhere(web: Web) -> None:
    urls = ["/", f"/papers/{HOSTILE_ID}", "/search?q=alert+title&mode=keyword", "/papers/trending"]
    for url in urls:
        response = web.get(url)
        assert response.status_code == 200, url
        body = response.text
        assert "<script>alert(1)" not in body, url
        assert "<img src=x" not in body and "<b>Mallory" not in body, url
        html = parse_html(body)
        # Spaces aside: search results mark matched words, which splits the title's text (#14).
        assert HOSTILE_TITLE.replace(" ", "") in html.text.replace(" ", ""), url
        assert not html.inline_script and "img" not in html.tags, url
        assert html.handler_attrs == [], url
        assert "javascript:alert(3)" not in html.hrefs(), url
    paper = page(web, f"/papers/{HOSTILE_ID}")
    assert HOSTILE_ABSTRACT in paper.text and HOSTILE_AUTHOR in paper.text
    assert 'https://example.org/?a=<x>&b="y"' in paper.hrefs()  # kept, but as an escaped attribute


def test_hsts_only_when_served_over_https(settings: Settings, engine: Engine) -> None:
    for base_url, setting, hsts in (
        ("http://testserver", "http://127.0.0.1:8000", False),
        ("https://testserver", "http://127.0.0.1:8000", True),  # TLS reached the app
        ("http://testserver", "https://papers.example.org", True),  # TLS ends at a proxy
    ):
        app = create_app(settings.model_copy(update={"base_url": setting}), engine=engine, clock=lambda: NOW)
        web = Web(app, base_url=base_url)
        for url in ("/", "/api/trending", "/nope"):
            got = web.get(url).headers.get("strict-transport-security")
            assert got == ("max-age=31536000" if hsts else None), (base_url, setting, url)


def test_no_inline_script_or_style_and_security_headers(web: Web) -> None:
    for url in ("/", "/papers/trending", f"/papers/{TOP_ID}", "/search", "/search?q=x", "/login", "/nope"):
        response = web.get(url)
        html = parse_html(response.text)
        assert html.inline_script == [] and html.styles == 0 and html.style_attrs == 0, url
        assert html.handler_attrs == [], url
        assert all(s.get("src", "").startswith("/static/") for s in html.scripts), url
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'self'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "strict-origin-when-cross-origin"
        assert response.headers["x-frame-options"] == "DENY"
    assert web.get("/static/style.css").status_code == 200
    assert web.get("/static/app.js").status_code == 200


def test_one_error_handler_for_html_and_json(web: Web) -> None:
    html = web.get("/no/such/page")
    assert html.status_code == 404 and "There is no page at /no/such/page" in parse_html(html.text).text
    as_json = web.get("/no/such/page", headers={"accept": "application/json"})
    assert as_json.status_code == 404
    assert as_json.json()["error"] == {"status": 404, "message": "There is no page at /no/such/page."}

    @web.app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret detail")

    @web.app.get("/api/boom")
    def api_boom() -> None:
        raise RuntimeError("secret detail")

    page_500 = web.get("/boom")
    assert page_500.status_code == 500 and "Something went wrong" in page_500.text
    assert "secret detail" not in page_500.text
    assert page_500.headers["x-content-type-options"] == "nosniff"
    api_500 = web.get("/api/boom")
    assert api_500.status_code == 500 and api_500.json()["status"] == 500
    assert web.post("/").status_code == 405
