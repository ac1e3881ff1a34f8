"""The library and "For you" in a real browser (issue #13), with JavaScript on and off and at phone
width: sign in from the Save button, save, make a collection and move a paper to it, import a
BibTeX file, follow an author, see "For you" with reasons, mark "Not interested" and see it gone,
export BibTeX."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from papertrend.db import reading
from papertrend.papers import repository
from tests.browser.conftest import DESKTOP, PHONE, NewPage, Site, open_mail, save_screenshot
from tests.integration.web_support import OLD_ID, TOP_ID

EMAIL = "librarian@example.org"
FOLLOWED = "2608.13210"  # 1 upvote on the sample day: it reaches "For you" by its author
BIBTEX = f"""@misc{{old, title={{An old paper}}, eprint={{{OLD_ID}}}, archivePrefix={{arXiv}}}}
@book{{knuth, title={{The Art of Computer Programming}}, author={{Knuth, Donald}}, year={{1968}}}}
"""


def sign_in_from_save(page: Page) -> None:
    """Signed out, Save leads to sign-in; the emailed link signs in and comes back."""
    page.goto("/")
    card = page.locator("article.paper").first
    card.get_by_role("button", name=re.compile("^Save")).click()
    expect(page).to_have_url(re.compile(r"/login\?next=%2F"))
    page.get_by_label("Your email address").fill(EMAIL)
    page.get_by_role("button", name="Email me a sign-in link").click()
    open_mail(page, to=EMAIL, subject="Sign in to Papertrend")
    page.locator('main a[href*="/login/"]').first.click()
    page.locator("main").get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("banner")).to_contain_text(EMAIL)


@pytest.mark.parametrize(
    ("javascript", "viewport"),
    [(True, DESKTOP), (False, DESKTOP), (True, PHONE), (False, PHONE)],
    ids=["js", "no-js", "js-phone", "no-js-phone"],
)
def test_library_for_you_follow_and_export(
    new_page: NewPage,
    site: Site,
    tmp_path: Path,
    screenshots_dir: Path,
    javascript: bool,
    viewport: ViewportSize,
) -> None:
    page = new_page(javascript=javascript, viewport=viewport)
    sign_in_from_save(page)

    # Save the day's top paper from the list: one click, and the button says so.
    page.goto("/")
    card = page.locator("article.paper").filter(has=page.locator(f'a[href="/papers/{TOP_ID}"]'))
    card.get_by_role("button", name=re.compile("^Save")).click()
    expect(card.get_by_role("button", name=re.compile("^Saved"))).to_have_attribute("aria-pressed", "true")

    # A new collection, and the paper moved into it from "Saved".
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    page.get_by_label("New collection").fill("Reading group")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Reading group")
    page.goto("/library")
    page.get_by_role("link", name="Saved", exact=True).click()
    page.get_by_role("button", name="Move", exact=True).first.click()
    expect(page.locator("article.paper")).to_have_count(0)
    page.goto("/library")
    page.get_by_role("link", name="Reading group").click()
    expect(page.locator(f'article.paper a[href="/papers/{TOP_ID}"]')).to_be_visible()

    # Import a BibTeX file: one paper already here, one book that is not an arXiv paper, reported.
    bib = tmp_path / "zotero.bib"
    bib.write_text(BIBTEX)
    page.goto("/library")
    page.get_by_label("File").set_input_files(bib)
    page.get_by_role("button", name="Import").click()
    report = page.locator(".import-report")
    expect(report).to_contain_text("Already here: 1")
    expect(report).to_contain_text("Not arXiv papers: 1")

    # Follow an author from a paper page; their paper comes to "For you", saying why.
    with reading(site.engine) as conn:
        paper = repository.get(conn=conn, paper_id=FOLLOWED)
    assert paper is not None
    author = paper.authors[0]
    page.goto(f"/papers/{FOLLOWED}")
    page.locator("p.authors").get_by_role("link", name=author, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(author)
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name=re.compile("Following"))).to_have_attribute("aria-pressed", "true")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="For you").click()
    pick = page.locator("article.paper").filter(has=page.locator(f'a[href="/papers/{FOLLOWED}"]'))
    expect(pick.locator(".reason")).to_have_text(f"by {author}")
    expect(page.locator(f'article.paper a[href="/papers/{TOP_ID}"]')).to_have_count(0)  # in the library
    save_screenshot(page, screenshots_dir, f"for-you-{'js' if javascript else 'no-js'}-{viewport['width']}")
    pick.get_by_role("button", name=re.compile("Not interested")).click()
    expect(page).to_have_url(re.compile("/for-you$"))
    expect(page.locator(f'article.paper a[href="/papers/{FOLLOWED}"]')).to_have_count(0)

    # Export the collection as BibTeX.
    page.goto("/library")
    page.get_by_role("link", name="Reading group").click()
    with page.expect_download() as download:
        page.get_by_role("link", name="BibTeX").click()
    text = Path(download.value.path()).read_text()
    assert re.search(rf"eprint = {{+{re.escape(TOP_ID)}}}+", text)

    # "Cite" opens without JavaScript: it is a <details>.
    page.goto(f"/papers/{TOP_ID}")
    page.get_by_text("Cite (BibTeX)").click()
    expect(page.locator("details.cite pre")).to_contain_text(TOP_ID)
