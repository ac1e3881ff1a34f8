"""The pages as a user sees them in Debian's chromium: reading, searching, navigating (issue #4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, NewPage, Problems, Site, save_screenshot
from tests.integration.web_support import OLD_DAY, OLD_ID, TOP_ID

TOP_TITLE = "EnvHarness: Awakening Static Worlds for Agent Learning"
TOP_ABSTRACT_START = "LLM agents learn by interacting with environments"
BANNER = "Get trending papers in your email inbox once a day!"
SWE_ID = "2608.19799"  # "SWE-bench Science: Can Coding Agents …", on the sample day
SPLAT_ID = "2503.11731"  # a real arXiv cs.CV paper about Gaussian splatting, listed 2025-03-18


def paper_ids(page: Page, selector: str = "article.paper h2 a") -> list[str]:
    """The paper ids a listing links to, in the order shown."""
    hrefs = page.locator(selector).evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return [h.removeprefix("/papers/") for h in hrefs]


def test_home_lists_papers_with_abstracts_and_the_subscribe_banner(page: Page) -> None:
    page.goto("/")
    expect(page).to_have_title(re.compile(r"Friday, 21 August 2026"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Friday, 21 August 2026")
    first = page.locator("article.paper").first
    expect(first.get_by_role("link", name=TOP_TITLE)).to_be_visible()
    expect(first.locator(".abstract")).to_contain_text(TOP_ABSTRACT_START)
    expect(first.locator(".abstract")).to_contain_text("…")  # a snippet, not the whole abstract
    expect(first.locator(".votes")).to_contain_text("163")
    expect(page.locator("article.paper")).to_have_count(18)
    # The banner: its text labels a visible email field with a Subscribe button.
    banner = page.get_by_role("complementary", name="Subscribe")
    expect(banner).to_contain_text(BANNER)
    field = page.get_by_label(BANNER)
    expect(field).to_be_visible()
    expect(field).to_have_attribute("type", "email")
    expect(banner.get_by_role("button", name="Subscribe")).to_be_visible()
    # The stylesheet loaded, under the CSP, and has rules (a blocked or empty one would not).
    assert page.evaluate("document.styleSheets.length >= 1 && document.styleSheets[0].cssRules.length > 0")


def test_search_box_finds_papers_by_meaning_and_shows_abstracts(page: Page) -> None:
    page.goto("/")
    box = page.get_by_role("searchbox", name="Search papers")
    # None of these words is in the paper's title: the match is by meaning and the abstract.
    box.fill("can coding agents reproduce scientific software")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=can\+coding\+agents"))
    results = page.locator("li.result")
    expect(results.first).to_be_visible()
    assert SWE_ID in paper_ids(page, "li.result h2 a")
    hit = results.filter(has=page.locator(f'a[href="/papers/{SWE_ID}"]'))
    expect(hit.get_by_role("heading", level=2)).to_contain_text("SWE-bench Science")
    expect(hit.locator(".abstract")).not_to_be_empty()
    expect(page.locator(".notice")).to_have_count(0)  # search by meaning worked: no fallback notice
    # The search page's own box keeps the query; a new search with the filters opened.
    expect(page.locator("#q")).to_have_value("can coding agents reproduce scientific software")
    page.locator("#q").fill("gaussian splatting")
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Match").select_option("keyword")
    page.get_by_label("Category").fill("cs.CV")
    page.locator("#q").press("Enter")
    expect(page).to_have_url(re.compile(r"mode=keyword"))
    expect(page.locator("p.count")).to_contain_text("for gaussian splatting")
    ids = paper_ids(page, "li.result h2 a")
    assert SPLAT_ID in ids
    expect(page.locator("li.result .abstract").first).to_contain_text(re.compile("splatting", re.I))


def test_paper_page_shows_the_full_abstract_and_similar_papers(page: Page) -> None:
    page.goto("/")
    page.get_by_role("link", name=TOP_TITLE).click()
    expect(page).to_have_url(re.compile(f"/papers/{TOP_ID}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(TOP_TITLE)
    abstract = page.locator(".abstract-full")
    expect(abstract).to_contain_text(TOP_ABSTRACT_START)
    assert "…" not in abstract.inner_text()
    assert len(abstract.inner_text()) > 600  # the whole abstract, longer than the home page's snippet
    expect(page.get_by_role("button", name=re.compile(r"Upvote · 163"))).to_be_visible()
    similar = page.locator("section.similar li a")
    expect(similar.first).to_be_visible()
    assert 1 < similar.count() <= 8
    target = similar.first.get_attribute("href")
    assert target and target != f"/papers/{TOP_ID}"
    title = similar.first.inner_text()
    similar.first.click()
    expect(page).to_have_url(re.compile(f"{target}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(title)


def test_trending_sort_and_window_switch(page: Page) -> None:
    page.goto("/papers/trending")
    expect(page.get_by_role("heading", level=1)).to_have_text("Trending papers")
    assert OLD_ID not in paper_ids(page)  # 4 days old: not in today's window
    page.get_by_role("navigation", name="Window").get_by_role("link", name="This week").click()
    expect(page).to_have_url(re.compile(r"window=week&sort=trending"))
    trending = paper_ids(page)
    assert trending[0] == TOP_ID and OLD_ID in trending
    sort = page.get_by_role("navigation", name="Sort")
    expect(sort.get_by_role("link", name="Trending")).to_have_attribute("aria-current", "page")
    sort.get_by_role("link", name="Most upvoted").click()
    expect(page).to_have_url(re.compile(r"window=week&sort=upvotes"))
    expect(sort.get_by_role("link", name="Most upvoted")).to_have_attribute("aria-current", "page")
    by_votes = paper_ids(page)
    assert by_votes[:2] == [OLD_ID, TOP_ID]  # 300 old votes first, then 163 fresh ones
    assert sorted(by_votes) == sorted(trending)  # the same papers, another order
    sort.get_by_role("link", name="Newest").click()
    expect(page).to_have_url(re.compile(r"sort=newest"))
    assert paper_ids(page)[-1] == OLD_ID


def test_day_navigation_previous_and_next(page: Page) -> None:
    page.goto("/")
    days = page.get_by_role("navigation", name="Neighbouring days")
    expect(days).to_contain_text("No later papers")
    days.get_by_role("link", name="← Previous day").click()
    expect(page).to_have_url(re.compile(f"/papers\\?date={OLD_DAY}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Monday, 17 August 2026")
    assert paper_ids(page) == [OLD_ID]
    days.get_by_role("link", name="← Previous day").click()
    # 18 to 20 March 2025 … August 2026 have no papers: the link skips straight to 21 March 2025.
    expect(page.get_by_role("heading", level=1)).to_have_text("Friday, 21 March 2025")
    expect(page.locator("article.paper")).to_have_count(10)
    days.get_by_role("link", name="Next day →").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Monday, 17 August 2026")
    days.get_by_role("link", name="Latest").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Friday, 21 August 2026")
    expect(page).to_have_url(re.compile(r"/$"))


def test_pages_load_without_console_errors_or_csp_violations(
    page: Page, site: Site, problems: Problems
) -> None:
    urls = [
        "/",
        "/papers?week=2026-W34",
        "/papers?month=2025-03",
        "/papers/trending?window=month&sort=upvotes",
        f"/papers/{TOP_ID}",
        "/search",
        "/search?q=agents+that+simulate+human+behaviour",
        "/subscribe",
        "/login",
        "/_mailbox",
        "/docs",  # Swagger UI: its own, slightly wider policy (inline style, never inline script)
    ]
    for url in urls:
        # "networkidle" only where scripts fetch more after load: each wait costs half a second.
        response = page.goto(url, wait_until="networkidle" if url == "/docs" else "load")
        assert response is not None and response.status == 200, url
        problems.assert_none(url)
    expect(page.locator(".swagger-ui")).to_be_visible()  # /docs rendered from its bundled scripts
    # The checks are live: an inline script, which the policy forbids, is reported.
    page.goto("/")
    page.evaluate("""() => {
        const s = document.createElement("script");
        s.textContent = "window.__ran = true";
        document.body.append(s);
    }""")
    page.wait_for_timeout(200)
    assert page.evaluate("window.__ran === undefined")
    assert any("Content Security Policy" in p or "CSP violation" in p for p in problems.console)
    problems.console.clear()


def test_phone_viewport_has_no_horizontal_scroll(
    new_page: NewPage, main_pages: dict[str, str], screenshots_dir: Path
) -> None:
    """Every main page fits 375 px: nothing scrolls sideways (issue #4). Each is saved as
    `<name>-phone.png` in the screenshots folder, to look at."""
    page = new_page(viewport=PHONE)
    wide: list[str] = []
    for name, url in main_pages.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        width = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert width[1] == PHONE["width"], url
        if width[0] > width[1]:
            wide.append(f"{name} ({url}): {width[0]}px")
        save_screenshot(page, screenshots_dir, f"{name}-phone")
    assert not wide, f"pages that scroll sideways at {PHONE['width']}px: {wide}"
    assert {p.name for p in screenshots_dir.glob("*-phone.png")} >= {f"{n}-phone.png" for n in main_pages}
    # The banner's field stays usable on a phone. (The preferences page above marked this browser
    # as subscribed, and a subscriber's pages have no banner, #13: a first visit's cookies again.)
    page.context.clear_cookies()
    page.goto("/")
    box = page.get_by_label(BANNER).bounding_box()
    assert box is not None and box["width"] >= 150 and box["x"] + box["width"] <= PHONE["width"]


def test_each_database_run_keeps_its_own_screenshots_folder(
    screenshots_dir: Path, pytestconfig: pytest.Config
) -> None:
    """The SQLite and PostgreSQL halves of `make test` run side by side; a shared folder let one
    half's unlink of a stale screenshot remove the other's fresh one (CI failure at stop 20)."""
    db = pytestconfig.getoption("--db")
    assert screenshots_dir.name == db and screenshots_dir.parent.name == "screenshots"


def test_desktop_screenshots_of_the_main_pages(
    page: Page, main_pages: dict[str, str], screenshots_dir: Path
) -> None:
    """Each main page saved as `<name>-desktop.png` in the screenshots folder, to look at."""
    page.goto("/")
    # Above the fold at desktop size: the header's search box, the banner and the first paper.
    for locator in (
        page.get_by_role("searchbox", name="Search papers"),
        page.get_by_label(BANNER),
        page.locator("article.paper").first,
    ):
        box = locator.bounding_box()
        assert box is not None and box["y"] + box["height"] <= DESKTOP["height"]
    for name, url in main_pages.items():
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        save_screenshot(page, screenshots_dir, f"{name}-desktop")
    assert {p.name for p in screenshots_dir.glob("*-desktop.png")} >= {f"{n}-desktop.png" for n in main_pages}


def test_slash_focuses_the_search_box_with_javascript_on(page: Page) -> None:
    """app.js's one enhancement works (so the no-JS tests' check that it does not is meaningful)."""
    page.goto("/")
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search papers")).to_be_focused()
