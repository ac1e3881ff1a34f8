"""A paper as markdown (issue #16): pure rendering, hostile text kept inert."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from papertrend.papers.markdown import md_escape, paper_markdown
from papertrend.papers.models import Paper

WHEN = datetime(2026, 8, 20, tzinfo=UTC)


def make(pid: str = "2608.00001", **fields: Any) -> Paper:
    base: dict[str, Any] = {
        "pk": 1,
        "id": pid,
        "version": 2,
        "title": "A title",
        "abstract": "An   abstract\nover lines.",
        "authors": ["Ada Lovelace", "Alan Turing"],
        "categories": ["cs.CL", "cs.AI"],
        "primary_category": "cs.CL",
        "comment": None,
        "journal_ref": None,
        "doi": None,
        "license": None,
        "published_at": WHEN,
        "updated_at": None,
        "listed_on": date(2026, 8, 21),
        "pdf_url": None,
        "code_url": None,
        "project_url": None,
        "hf_upvotes": 5,
        "hf_comments": None,
        "hf_daily_on": None,
        "hf_submitted_at": None,
        "hf_ai_summary": None,
        "hf_ai_keywords": None,
        "github_stars": None,
        "sources": ["test"],
        "first_seen_at": WHEN,
        "changed_at": WHEN,
    }
    base.update(fields)
    return Paper(**base)


def test_a_paper_has_its_title_metadata_links_and_abstract() -> None:
    text = paper_markdown(make(), similar=[], base_url="https://papers.example.org/")
    lines = text.splitlines()
    assert lines[0] == "# A title"
    assert "- **Authors:** Ada Lovelace, Alan Turing" in lines
    assert "- **arXiv id:** 2608.00001 (v2)" in lines
    assert "- **Published:** 2026-08-20" in lines and "- **Listed:** 2026-08-21" in lines
    assert "- **Upvotes:** 5" in lines
    links = next(line for line in lines if line.startswith("- **Links:**"))
    assert "[Papertrend](https://papers.example.org/papers/2608.00001)" in links
    assert "[arXiv](https://arxiv.org/abs/2608.00001)" in links
    assert "[PDF](https://arxiv.org/pdf/2608.00001)" in links
    assert "## Abstract" in lines and "An abstract over lines." in lines
    # Nothing imported, no similar papers: no empty sections.
    assert "Summary" not in text and "Keywords" not in text and "Similar" not in text


def test_imported_summary_keywords_and_similar_papers_get_sections() -> None:
    paper = make(hf_ai_summary="It  does things.", hf_ai_keywords=["LLM agents", "RL"], comment="10 pages")
    other = make("2608.00002", title="Another one", pk=2)
    text = paper_markdown(paper, similar=[other], base_url="http://h")
    assert "## Summary (machine-written, from Hugging Face)\n\nIt does things." in text
    assert "## Keywords\n\nLLM agents, RL" in text
    assert "## Comment\n\n10 pages" in text
    entry = "- [Another one](http://h/papers/2608.00002.md) (2608.00002, 2026-08-21)"
    assert f"## Similar papers\n\n{entry}" in text


def test_hostile_text_cannot_add_markup_or_links() -> None:
    paper = make(
        title="# <script>alert(1)</script> [click](javascript:alert(2))",
        authors=["*Mallory*"],
        code_url="javascript:alert(3)",
        project_url="https://example.org/a) [x](javascript:alert(4)",
    )
    text = paper_markdown(paper, similar=[], base_url="http://h")
    assert text.splitlines()[0] == r"# \# \<script\>alert(1)\</script\> \[click\](javascript:alert(2))"
    assert r"\*Mallory\*" in text
    # An escaped bracket ends no link text: only an unescaped "](" would make a link.
    assert not re.search(r"(?<!\\)\]\(javascript:", text)
    assert "Code" not in text and "Project page" not in text


def test_md_escape_puts_text_on_one_line() -> None:
    assert md_escape("a\n# b  |c") == r"a \# b \|c"
