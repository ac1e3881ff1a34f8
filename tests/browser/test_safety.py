"""Hostile text from sources stays text in a real browser, and the site works with JavaScript off
(issue #4)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage, Problems
from tests.browser.test_pages import SWE_ID, paper_ids
from tests.integration.web_support import HOSTILE_ABSTRACT, HOSTILE_AUTHOR, HOSTILE_ID, HOSTILE_TITLE

INJECTED = "main script, main img, main b, [onerror], [onclick], a[href^='javascript:']"


def test_hostile_title_renders_as_text_and_runs_nothing(page: Page, problems: Problems) -> None:
    # Any alert() that ran would open a dialog: `problems` records it and the test fails.
    for url in (
        "/",
        "/papers/trending",
        "/search?q=alert+title&mode=keyword",
        f"/papers/{HOSTILE_ID}",
    ):
        page.goto(url)
        expect(page.get_by_text(HOSTILE_TITLE).first).to_be_visible()
        assert page.locator(INJECTED).count() == 0, url
        problems.assert_none(url)
    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE)
    expect(page.get_by_text(HOSTILE_ABSTRACT)).to_be_visible()
    # Its author is a link to their page (#13), as text; the closed "Cite" box holds the name too.
    expect(page.locator("p.authors").get_by_text(HOSTILE_AUTHOR)).to_be_visible()
    actions = page.locator(".actions")
    expect(actions.get_by_role("link", name="Project page", exact=True)).to_be_visible()
    expect(actions.get_by_role("link", name="Code", exact=True)).to_have_count(0)  # javascript: dropped
    assert page.evaluate("typeof window.alert") == "function"  # nothing replaced alert to hide a dialog
    assert problems.dialogs == []


def test_dialogs_are_caught(page: Page, problems: Problems) -> None:
    """The guard above is live: a script that does call alert() is recorded."""
    page.goto("/")
    page.evaluate("alert('hi')")
    assert problems.dialogs and "'hi'" in problems.dialogs[0]
    problems.dialogs.clear()


def test_search_works_with_javascript_off(new_page: NewPage) -> None:
    page = new_page(javascript=False)
    page.goto("/")
    # Scripts are really off: app.js's "/" shortcut to the search box does nothing.
    page.keyboard.press("/")
    expect(page.get_by_role("searchbox", name="Search papers")).not_to_be_focused()
    box = page.get_by_role("searchbox", name="Search papers")
    box.fill("SWE-bench science coding agents")
    box.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=SWE-bench\+science\+coding\+agents"))
    expect(page.locator("p.count")).to_contain_text("for SWE-bench science coding agents")
    assert SWE_ID in paper_ids(page, "li.result h2 a")
    expect(page.locator("li.result .abstract").first).not_to_be_empty()
    # Filters open without script (<details>) and apply on submit.
    page.get_by_text("Filters", exact=True).click()
    page.get_by_label("Match").select_option("keyword")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(re.compile(r"mode=keyword"))
    assert SWE_ID in paper_ids(page, "li.result h2 a")
