"""Every form field has a name a screen reader can say, and the site works from the keyboard alone,
with the focus always visible (issue #4)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import NewPage, Site, sign_in
from tests.browser.test_pages import SPLAT_ID, paper_ids
from tests.integration.web_support import TOP_ID

# The fields of each page and any without a name by the three means WCAG's "labels or instructions"
# technique names: a <label for>, a wrapping <label>, or aria-label/aria-labelledby. A placeholder
# or title is no label: it disappears on typing, and not every screen reader reads it.
UNNAMED_FIELDS = """() => {
  const text = (el) => (el ? el.textContent.trim() : "");
  const named = (el) =>
    [...el.labels].some((label) => text(label)) ||
    (el.getAttribute("aria-label") || "").trim() !== "" ||
    (el.getAttribute("aria-labelledby") || "").split(/\\s+/).some((id) => text(document.getElementById(id)));
  const buttons = new Set(["hidden", "submit", "button", "reset", "image"]);
  const fields = [...document.querySelectorAll("input, select, textarea")]
    .filter((el) => !buttons.has(el.type));
  return {
    visible: fields.filter((el) => el.checkVisibility()).length,
    unnamed: fields.filter((el) => !named(el)).map((el) => el.outerHTML.slice(0, 160)),
  };
}"""

# What has the focus, and whether it shows: an outline or a box shadow (a focus ring drawn either way).
FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  return {
    what: `${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""} ${el.textContent.trim().slice(0, 40)}`,
    shown: (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0)
      || style.boxShadow !== "none",
  };
}"""


def tab_to(page: Page, selector: str | None, *, limit: int = 30) -> list[str]:
    """Press Tab until the element matching `selector` has the focus (None: up to `limit` times, or
    until the focus leaves the page), checking at every stop that the focus shows; the stops."""
    stops: list[str] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        focused: dict[str, Any] | None = page.evaluate(FOCUSED)
        if focused is None and selector is None and stops:
            return stops  # past the last stop, the focus goes to the browser's own controls
        assert focused is not None, f"Tab left the page after {stops}"
        stops.append(focused["what"])
        assert focused["shown"], f"no visible focus on {focused['what']!r} (after {stops[:-1]})"
        if selector and page.evaluate("(s) => document.activeElement.matches(s)", selector):
            return stops
    assert selector is None, f"{limit} presses of Tab never reached {selector}: {stops}"
    return stops


def test_every_form_field_has_a_label(page: Page, main_pages: dict[str, str]) -> None:
    for name, url in main_pages.items():
        # Each page as a first visit sees it, banner included: the preferences page marks a browser
        # as subscribed, and a subscriber's pages have no banner (#13).
        page.context.clear_cookies()
        page.goto(url)
        # Fields inside closed <details> (the search filters) count too: they need a name once opened.
        fields = page.evaluate(UNNAMED_FIELDS)
        assert fields["visible"] >= 2, f"{name}: expected a search and an email field at least: {fields}"
        assert fields["unnamed"] == [], f"{name} ({url}) has fields without a label: {fields['unnamed']}"


def test_focus_is_visible_on_every_tab_stop(page: Page, main_pages: dict[str, str]) -> None:
    """The home page's first 25 stops (header, banner, the first papers), then on every main page
    the skip link and the first 12 stops of its content: the header and banner are the same
    everywhere, so checking them on each page would only add time."""
    page.goto("/")
    assert len(tab_to(page, None, limit=25)) == 25
    for url in main_pages.values():
        page.goto(url)
        # The search page starts in its own box (autofocus); the others start at the top.
        if page.evaluate("document.activeElement === document.body"):
            assert tab_to(page, "a.skip", limit=1)  # the first stop
            page.keyboard.press("Enter")
        first = tab_to(page, None, limit=1)
        # Past the skip link, or past the search box, the next stop is the page's own content.
        assert page.evaluate("document.activeElement.closest('main') !== null"), f"{url}: {first}"
        tab_to(page, None, limit=11)


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_tab_to_the_search_box_type_and_press_enter(new_page: NewPage, javascript: bool) -> None:
    page = new_page(javascript=javascript)
    page.goto("/")
    stops = tab_to(page, "#site-q")
    assert stops[0].endswith("Skip to content")  # the first stop skips the header for keyboard users
    page.keyboard.type("gaussian splatting")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/search\?q=gaussian\+splatting$"))
    expect(page.locator("li.result").first).to_be_visible()
    assert SPLAT_ID in paper_ids(page, "li.result h2 a")
    # The results page puts the focus back in its own box (autofocus, no script), ready to refine.
    expect(page.locator("#q")).to_be_focused()
    expect(page.locator("#q")).to_have_value("gaussian splatting")


def test_tab_to_the_subscribe_field_type_and_press_enter(page: Page) -> None:
    page.goto("/")
    tab_to(page, "#subscribe-email")
    page.keyboard.type("keyboard@example.org")
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text("keyboard@example.org")


def test_tab_to_the_upvote_button_and_press_enter_when_signed_in(page: Page, site: Site) -> None:
    sign_in(page, site, email="keys@example.org")
    page.goto(f"/papers/{TOP_ID}")
    button = page.locator(".actions button.upvote")
    expect(button).to_have_attribute("aria-pressed", "false")
    # Every author's name is a link to their page (#13); this paper has 17 before its buttons.
    tab_to(page, ".actions button.upvote", limit=50)
    page.keyboard.press("Enter")
    expect(button).to_have_attribute("aria-pressed", "true")
    expect(button).to_have_text(re.compile(r"Upvoted · 164$"))
    page.reload()
    expect(button).to_have_attribute("aria-pressed", "true")  # stored, not only shown
