"""`/papers/{id}.md` and `Accept: text/markdown` on the paper page (issue #16), in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.integration.web_support import HOSTILE_ID, TOP_ID, Web, load_papers, make_web


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def test_a_paper_as_markdown_has_what_hugging_face_imported(web: Web) -> None:
    response = web.get(f"/papers/{TOP_ID}.md")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/markdown; charset=utf-8"
    text = response.text
    assert text.startswith("# EnvHarness: Awakening Static Worlds for Agent Learning\n")
    assert "- **Authors:** Chengsong Huang" in text
    assert "[Code](https://github.com/google-research/envharness)" in text
    assert "[Project page](https://envharness.com/)" in text
    assert "## Abstract\n\nLLM agents learn by interacting with environments" in text
    assert "## Summary (machine-written, from Hugging Face)\n\nEnvHarness and EnvRigger" in text
    assert "## Keywords\n\nLLM agents, Environment Harness" in text
    # Not embedded: no similar papers section rather than an empty one.
    assert "Similar papers" not in text


def test_accept_markdown_on_the_paper_page_gives_the_same_text(web: Web) -> None:
    markdown = web.get(f"/papers/{TOP_ID}.md").text
    for accept in ("text/markdown", "text/markdown, text/html;q=0.9", "text/html;q=0.5, text/markdown"):
        response = web.get(f"/papers/{TOP_ID}", headers={"accept": accept})
        assert response.headers["content-type"] == "text/markdown; charset=utf-8", accept
        assert response.text == markdown
    # A browser's Accept (HTML first, */* last) still gets the page.
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    page = web.get(f"/papers/{TOP_ID}", headers={"accept": browser})
    assert page.headers["content-type"].startswith("text/html") and "<html" in page.text
    page = web.get(f"/papers/{TOP_ID}", headers={"accept": "text/html, text/markdown;q=0.1"})
    assert page.headers["content-type"].startswith("text/html")


def test_other_spellings_redirect_and_bad_ids_are_clear_errors(web: Web) -> None:
    response = web.get(f"/papers/{TOP_ID}v2.md")
    assert response.status_code == 308 and response.headers["location"] == f"/papers/{TOP_ID}.md"
    missing = web.get("/papers/2101.00001.md", headers={"accept": "application/json"})
    assert missing.status_code == 404
    assert "No paper 2101.00001 is stored" in missing.json()["error"]["message"]
    bad = web.get("/papers/not-an-id.md", headers={"accept": "application/json"})
    assert bad.status_code == 400 and "not an arXiv id" in bad.json()["error"]["message"]
    long = web.get("/papers/" + "9" * 10_000 + ".md")
    assert long.status_code == 400


def test_hostile_text_stays_text(web: Web) -> None:
    text = web.get(f"/papers/{HOSTILE_ID}.md").text
    assert text.startswith(r"# \<script\>alert(1)\</script\> & a title")
    assert "javascript:" not in text


def test_similar_papers_are_listed_once_embedded(web: Web, settings: Settings, engine: Engine) -> None:
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    web = make_web(settings.model_copy(update={"embedding_model": FAST_MODEL}), engine)
    text = web.get(f"/papers/{TOP_ID}.md").text
    similar = text.split("## Similar papers\n\n", 1)[1].splitlines()
    assert len(similar) == 8
    assert all(line.startswith("- [") and (".md) (26" in line or ".md) (25" in line) for line in similar)
    assert f"/papers/{TOP_ID}.md" not in "\n".join(similar)
