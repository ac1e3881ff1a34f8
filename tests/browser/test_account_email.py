""" "Your email" in the browser (#13, item 1): a signed-in reader finds it in the header, subscribes
without a confirmation mail, changes cadence, topics and the library switch, sees an error next to its
field with everything typed kept, and the banner no longer asks for an address; JavaScript on and off,
at desktop and 375 px phone width."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from papertrend.db import reading
from papertrend.digest import subscriptions as subs
from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    NewPage,
    Problems,
    Site,
    open_mail,
    save_screenshot,
    sign_in,
)
from tests.browser.test_accessibility import UNNAMED_FIELDS, tab_to
from tests.browser.test_pages import BANNER

EMAIL = "reader@example.org"


def own(site: Site) -> subs.Subscription | None:
    with reading(site.engine) as conn:
        return subs.get_by_email(conn=conn, email=EMAIL)


def no_horizontal_scroll(page: Page) -> None:
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= page.evaluate("window.innerWidth"), f"{page.url} scrolls sideways: {width} px"


@pytest.mark.parametrize(
    ("javascript", "viewport"),
    [(True, DESKTOP), (False, DESKTOP), (True, PHONE), (False, PHONE)],
    ids=["js", "no-js", "js-phone", "no-js-phone"],
)
def test_signed_in_reader_subscribes_and_changes_it_on_your_email(
    new_page: NewPage,
    site: Site,
    problems: Problems,
    screenshots_dir: Path,
    javascript: bool,
    viewport: ViewportSize,
) -> None:
    page = new_page(javascript=javascript, viewport=viewport)
    sign_in(page, site, email=EMAIL)
    page.goto("/")
    # Signed in, not subscribed: the banner links to "Your email" and asks for no address.
    banner = page.get_by_role("complementary", name="Subscribe")
    expect(banner).to_contain_text(BANNER)
    expect(page.get_by_label(BANNER)).to_have_count(0)
    expect(banner.get_by_role("link", name="Subscribe")).to_have_attribute("href", "/account/email")

    page.locator("header .account").get_by_role("link", name="Your email").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Your email")
    main = page.locator("main")
    expect(main).to_contain_text("not subscribed")
    main.get_by_label("Topics you follow").fill("graph neural networks\nprotein folding")
    main.get_by_label("Weekly, on").check()
    main.get_by_label("Weekday of the weekly email").select_option("Thursday")
    main.get_by_label("Send at").select_option("07:00")
    main.get_by_label("in time zone").select_option("Europe/Paris")
    # A wrong category: the error sits next to its field, and everything typed is kept.
    main.get_by_label("arXiv categories").fill("not a category!")
    main.get_by_role("button", name="Subscribe").click()
    expect(page.locator("#categories-error")).to_contain_text("is not an arXiv category")
    expect(main.get_by_label("Topics you follow")).to_have_value("graph neural networks\nprotein folding")
    expect(main.get_by_label("Weekly, on")).to_be_checked()
    expect(main.get_by_label("in time zone")).to_have_value("Europe/Paris")
    assert own(site) is None
    problems.expect_error_page(f"{site.base_url}/account/email", 400)
    if viewport == PHONE:
        no_horizontal_scroll(page)

    main.get_by_label("arXiv categories").fill("cs.LG, q-bio.BM")
    main.get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("status")).to_contain_text("You are subscribed")
    sub = own(site)
    assert sub is not None and sub.status == "confirmed" and sub.consent == subs.CONSENT_SIGNED_IN
    assert (sub.prefs.cadence, sub.prefs.send_weekday, sub.prefs.send_hour) == ("weekly", 3, 7)
    assert sub.prefs.timezone == "Europe/Paris" and sub.prefs.categories == ("cs.LG", "q-bio.BM")

    # Change cadence and topics, and turn library-based recommendations off.
    main.get_by_label("Daily").check()
    main.get_by_label("Topics you follow").fill("diffusion models for video generation")
    main.get_by_role("radio", name=re.compile(r"^Off:")).check()
    main.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("Saved")
    expect(main.get_by_label("Daily")).to_be_checked()
    expect(main.get_by_role("radio", name=re.compile(r"^Off:"))).to_be_checked()
    changed = own(site)
    assert changed is not None and changed.prefs.cadence == "daily"
    assert changed.prefs.topics == ("diffusion models for video generation",)
    assert not changed.prefs.use_library
    if viewport == PHONE:
        no_horizontal_scroll(page)
    save_screenshot(
        page, screenshots_dir, f"your-email-{'js' if javascript else 'no-js'}-{viewport['width']}"
    )

    # Subscribed: no page asks for the address any more.
    for path in ("/", "/papers/trending", "/library"):
        page.goto(path)
        expect(page.get_by_role("complementary", name="Subscribe")).to_have_count(0)
        expect(page.get_by_label(BANNER)).to_have_count(0)


def test_an_anonymous_subscriber_is_not_asked_again_after_confirming(new_page: NewPage, site: Site) -> None:
    page = new_page(javascript=False, viewport=PHONE)
    with reading(site.engine) as conn:
        assert subs.get_by_email(conn=conn, email=EMAIL) is None
    page.goto("/")
    page.get_by_label(BANNER).fill(EMAIL)
    page.get_by_role("complementary", name="Subscribe").get_by_role("button", name="Subscribe").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Check your inbox")
    # Confirming (the mailed link) marks this browser as subscribed.
    open_mail(page, to=EMAIL, subject="Confirm your Papertrend subscription")
    page.locator(f'main a[href^="{site.base_url}/subscribe/confirm/"]').click()
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("status")).to_contain_text("You are subscribed!")
    page.goto("/")
    expect(page.get_by_label(BANNER)).to_have_count(0)


def test_your_email_fields_are_named_and_the_focus_shows_on_every_stop(page: Page, site: Site) -> None:
    sign_in(page, site, email=EMAIL)
    page.goto("/account/email")
    fields = page.evaluate(UNNAMED_FIELDS)
    assert fields["visible"] >= 10 and fields["unnamed"] == [], fields
    tab_to(page, "#follow", limit=60)  # every stop from the top to the last field shows its focus
