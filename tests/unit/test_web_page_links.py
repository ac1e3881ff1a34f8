"""Numbered pages on listings and search (#14)."""

from __future__ import annotations

from papertrend.web.templating import page_links


def _labels(page: int, pages: int) -> list[str]:
    return [
        f"[{link.label}]" if link.current else link.label
        for link in page_links(page=page, pages=pages, url_of=lambda n: f"?p={n}")
    ]


def test_first_last_and_neighbours_with_gaps() -> None:
    # A 6,837-paper month at 50 a page: 137 pages.
    assert _labels(0, 137) == ["[1]", "2", "3", "…", "137"]
    assert _labels(70, 137) == ["1", "…", "69", "70", "[71]", "72", "73", "…", "137"]
    assert _labels(136, 137) == ["1", "…", "135", "136", "[137]"]


def test_one_page_needs_no_numbers_and_links_point_at_their_page() -> None:
    assert page_links(page=0, pages=1, url_of=str) == []
    links = page_links(page=1, pages=3, url_of=lambda n: f"?p={n}")
    assert [(link.label, link.url) for link in links] == [("1", "?p=0"), ("2", None), ("3", "?p=2")]
