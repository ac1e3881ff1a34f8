"""Search as people type it (#14): "did you mean", filters everywhere, results you can scan."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from tests.integration.test_web_pages import Web, load_papers, make_web, page


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    load_papers(engine, fixture_data, tmp_path / "data")
    return make_web(settings, engine)


def test_a_misspelled_query_gets_a_did_you_mean_one_click_away(web: Web) -> None:
    html = page(web, "/search?q=agnets+for+coding&mode=keyword")
    assert "Did you mean agents for coding" in html.text
    assert "/search?q=agents+for+coding&mode=keyword&sort=relevance" in html.hrefs()
    response = web.get("/api/papers/search?q=agnets+for+coding&mode=keyword")
    assert response.status_code == 200
    assert unquote(response.headers["x-did-you-mean"]) == "agents for coding"


def test_a_well_spelled_query_gets_no_did_you_mean(web: Web) -> None:
    assert "Did you mean" not in page(web, "/search?q=agents+for+coding&mode=keyword").text
    assert "x-did-you-mean" not in web.get("/api/papers/search?q=agents&mode=keyword").headers
