"""Sign in with an emailed link and upvote, in the browser, with and without JavaScript (issue #4,
part 2): the link's GET shows a "Sign in" button and signs nobody in; the button does; CSRF tokens
travel in the forms' hidden fields as a real browser sends them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from papertrend.web.cookies import SESSION_COOKIE
from tests.browser.conftest import NewPage, Problems, Site, open_mail
from tests.integration.web_support import TOP_ID

EMAIL = "voter@example.org"
VOTES = 163  # the paper's Hugging Face upvotes


def upvote_button(page: Page) -> Locator:
    return page.locator(".actions").get_by_role("button", name=re.compile("Upvote"))


def expect_vote(page: Page, *, count: int, mine: bool) -> None:
    button = upvote_button(page)
    expect(button).to_have_text(re.compile(rf"Upvoted? · {count}$"))  # "▲ Upvote · 163"
    expect(button).to_have_attribute("aria-pressed", "true" if mine else "false")


def session_cookies(page: Page) -> list[str]:
    return [c["name"] for c in page.context.cookies() if c["name"] == SESSION_COOKIE]


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_sign_in_from_the_mailbox_then_upvote_and_take_it_back(
    new_page: NewPage, site: Site, problems: Problems, javascript: bool
) -> None:
    page = new_page(javascript=javascript)
    page.goto(f"/papers/{TOP_ID}")
    expect_vote(page, count=VOTES, mine=False)
    # Signed out, the upvote button leads to sign-in, which will come back here.
    upvote_button(page).click()
    expect(page).to_have_url(re.compile(f"/login\\?next=%2Fpapers%2F{TOP_ID}$"))
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_role("button", name="Email me a sign-in link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")

    open_mail(page, to=EMAIL, subject="Sign in to Papertrend")
    link = page.locator(f'main a[href^="{site.base_url}/login/"]')
    expect(link).to_have_count(1)
    link_url = link.get_attribute("href")
    link.click()
    # Opening the link shows a button and signs nobody in: mail scanners prefetch links.
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in to Papertrend")
    expect(page.locator("main")).to_contain_text(EMAIL)
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    assert session_cookies(page) == []
    page.locator("main").get_by_role("button", name="Sign in").click()

    expect(page).to_have_url(re.compile(f"/papers/{TOP_ID}$"))  # back where sign-in began
    banner = page.get_by_role("banner")
    expect(banner).to_contain_text(EMAIL)
    expect(banner.get_by_role("button", name="Sign out")).to_be_visible()
    assert session_cookies(page) == [SESSION_COOKIE]
    expect_vote(page, count=VOTES, mine=False)

    if javascript:
        page.evaluate("window.samePage = true")
    upvote_button(page).click()
    expect_vote(page, count=VOTES + 1, mine=True)
    # With scripts on, app.js updates the button in place; without, the form posts and comes back.
    assert page.evaluate("window.samePage === true") == javascript
    page.reload()
    expect_vote(page, count=VOTES + 1, mine=True)  # stored, not only shown
    page.goto("/")
    first = page.locator("article.paper").first
    expect(first.get_by_role("link", name=re.compile("EnvHarness"))).to_be_visible()
    card_button = first.locator("form.upvote-form button")
    expect(card_button).to_have_text(re.compile(rf"▲ {VOTES + 1} upvotes"))  # listings count it too
    expect(card_button).to_have_attribute("aria-pressed", "true")

    page.goto(f"/papers/{TOP_ID}")
    upvote_button(page).click()
    expect_vote(page, count=VOTES, mine=False)
    page.reload()
    expect_vote(page, count=VOTES, mine=False)

    # The link worked once.
    assert link_url
    response = page.goto(link_url)
    assert response is not None and response.status == 410
    expect(page.get_by_role("heading", level=1)).to_have_text("This link was already used")
    problems.expect_error_page(link_url, 410)

    # Signing out ends the session; the upvote button leads to sign-in again.
    page.goto(f"/papers/{TOP_ID}")
    page.get_by_role("banner").get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("banner").get_by_role("link", name="Sign in")).to_be_visible()
    assert session_cookies(page) == []
