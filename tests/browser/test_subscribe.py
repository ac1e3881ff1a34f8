"""Subscribing from the banner to a confirmed subscription, in the browser, with and without
JavaScript (issues #4 and #5): the confirmation mail is read on the local mailbox page, its link shows
a Confirm button (a GET confirms nothing), and the button confirms."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from papertrend.db import reading
from papertrend.digest import subscriptions as subs
from tests.browser.conftest import NewPage, Site, open_mail
from tests.browser.test_pages import BANNER, SPLAT_ID

EMAIL = "reader@example.org"


def status_of(site: Site, email: str) -> str | None:
    with reading(site.engine) as conn:
        sub = subs.get_by_email(conn=conn, email=email)
    return sub.status if sub else None


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_subscribe_from_the_banner_confirm_from_the_mailbox(
    new_page: NewPage, site: Site, javascript: bool
) -> None:
    page = new_page(javascript=javascript)
    page.goto(f"/papers/{SPLAT_ID}")  # the banner is on every page, not only the home page
    page.get_by_label(BANNER).fill(EMAIL)
    page.get_by_role("complementary", name="Subscribe").get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    expect(page.locator("main")).to_contain_text(EMAIL)
    assert status_of(site, EMAIL) == "pending"

    page.get_by_role("link", name="local mailbox").click()
    expect(page).to_have_url(re.compile(r"/_mailbox$"))
    open_mail(page, to=EMAIL, subject="Confirm your Papertrend subscription")
    link = page.locator(f'main a[href^="{site.base_url}/subscribe/confirm/"]')
    expect(link).to_have_count(1)
    link.click()
    # Opening the link shows a button and confirms nothing: mail scanners prefetch links.
    expect(page.get_by_role("heading", level=1)).to_have_text("Confirm your subscription")
    expect(page.locator("main")).to_contain_text(EMAIL)
    assert status_of(site, EMAIL) == "pending"
    page.get_by_role("button", name="Confirm").click()

    expect(page).to_have_url(re.compile(r"/preferences/[^/?]+\?welcome=1$"))
    expect(page.get_by_role("status")).to_contain_text("You are subscribed!")
    assert status_of(site, EMAIL) == "confirmed"
    # The preferences page works: add topics, save, and see them kept.
    page.get_by_label("Topics you follow").fill(
        "LLM agents that simulate human behaviour\ngaussian splatting"
    )
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved.")
    expect(page.get_by_label("Topics you follow")).to_have_value(
        "LLM agents that simulate human behaviour\ngaussian splatting"
    )
    with reading(site.engine) as conn:
        sub = subs.get_by_email(conn=conn, email=EMAIL)
    assert sub is not None and sub.prefs.topics == (
        "LLM agents that simulate human behaviour",
        "gaussian splatting",
    )
