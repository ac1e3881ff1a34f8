"""The library pages, in-process (issue #13): save from lists and paper pages, collections (create,
rename, move, delete, share by link + Atom), "Your upvotes", import and export, "Cite", "For you"
with reasons and "not interested", author pages with Follow; hostile input answered with a message.
"""

from __future__ import annotations

import json
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.library import foryou, service
from papertrend.library import repository as library_repo
from papertrend.web import foryou as foryou_page
from tests.integration.library_support import collection_id, library_web, sign_in
from tests.integration.web_support import (
    HOSTILE_AUTHOR,
    OLD_ID,
    TOP_ID,
    Web,
    page,
    parse_html,
)

OTHER_ID = "2608.18580"


@pytest.fixture
def web(settings: Settings, engine: Engine, fixture_data: Path, tmp_path: Path) -> Web:
    return library_web(settings, engine, fixture_data, tmp_path)


def library_ids(engine: Engine, user_id: int) -> dict[str, list[str]]:
    with reading(engine) as conn:
        return {
            c.name: [e.paper_id for e in service.entries(conn=conn, user_id=user_id, collection_id=c.id)]
            for c in service.collections(conn=conn, user_id=user_id)
        }


def test_signed_out_save_goes_to_sign_in_and_library_pages_ask_for_it(web: Web) -> None:
    response = web.submit(f"/papers/{TOP_ID}/save", {"next": "/"}, page="/")
    assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    for path in ("/library", "/for-you", "/library/upvotes"):
        response = web.get(path)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_save_from_lists_search_and_paper_page(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    home = page(web, "/")
    assert f"/papers/{TOP_ID}/save" in [f.get("action") for f in home.forms]
    search = page(web, "/search?q=gaussian+splatting&mode=keyword")
    assert any(f.get("action", "").endswith("/save") for f in search.forms)
    response = web.submit(f"/papers/{TOP_ID}/save", {"next": "/"}, page="/")
    assert response.status_code == 303 and response.headers["location"] == "/"
    assert library_ids(engine, uid) == {"Saved": [TOP_ID]}
    # The button now says so, on the list and on the paper page.
    again = web.get("/").text
    assert 'aria-pressed="true"' in again and ">Saved<" in again
    paper = page(web, f"/papers/{TOP_ID}")
    assert "Saved · save again" in paper.text
    # Saving twice keeps one copy.
    web.submit(f"/papers/{TOP_ID}/save", {"next": "/"}, page="/")
    assert library_ids(engine, uid) == {"Saved": [TOP_ID]}


@pytest.mark.parametrize("collection", ["\u00b2", "\u00b23", "12abc", "9" * 30])
def test_saving_to_a_collection_that_is_no_number_is_a_clear_400(
    web: Web, engine: Engine, collection: str
) -> None:
    # "²" passes str.isdigit() but not int(): it was a 500.
    uid = sign_in(web, engine)
    response = web.submit(f"/papers/{TOP_ID}/save", {"next": "/", "collection": collection}, page="/")
    assert response.status_code == 400 and "Choose one of your collections." in response.text
    assert all(TOP_ID not in ids for ids in library_ids(engine, uid).values())


def test_collections_rename_move_share_delete(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    web.submit(f"/papers/{TOP_ID}/save", {}, page="/")
    made = web.submit("/library/collections", {"name": "Reading group"}, page="/library")
    assert made.status_code == 303
    group = collection_id(engine, uid, "Reading group")
    saved = collection_id(engine, uid, "Saved")
    moved = web.submit(
        f"/library/{saved}/move", {"paper": TOP_ID, "to": str(group)}, page=f"/library/{saved}"
    )
    assert moved.status_code == 303
    assert library_ids(engine, uid) == {"Saved": [], "Reading group": [TOP_ID]}
    renamed = web.submit(f"/library/{group}/rename", {"name": "Journal club"}, page=f"/library/{group}")
    assert renamed.status_code == 303
    assert "Journal club" in library_ids(engine, uid)

    # Shared by link: a read-only page and an Atom feed anyone can read; private again, gone.
    web.submit(f"/library/{group}/share", {"public": "1"}, page=f"/library/{group}")
    with reading(engine) as conn:
        token = service.collection(conn=conn, user_id=uid, collection_id=group).public_token
    assert token
    stranger = Web(web.app)
    shared = page(stranger, f"/c/{token}")
    assert "Journal club" in shared.text and f"/papers/{TOP_ID}" in shared.hrefs()
    assert not any(f.get("action", "").startswith(f"/library/{group}") for f in shared.forms)
    feed = stranger.get(f"/c/{token}.atom")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("application/atom+xml")
    assert f"arxiv.org/abs/{TOP_ID}" in feed.text or TOP_ID in feed.text
    web.submit(f"/library/{group}/share", {"public": "0"}, page=f"/library/{group}")
    assert stranger.get(f"/c/{token}").status_code == 404
    # Someone else's collection is not found, not shown.
    assert stranger.get(f"/library/{group}").status_code == 303
    sign_in(stranger, engine, "other@example.org")
    assert stranger.get(f"/library/{group}").status_code == 404

    web.submit(f"/library/{group}/delete", {}, page=f"/library/{group}")
    assert library_ids(engine, uid) == {"Saved": []}


def test_collection_name_with_markup_is_refused_next_to_the_field_and_kept(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    name = "<script>alert(1)</script> my papers"
    response = web.submit("/library/collections", {"name": name}, page="/library")
    assert response.status_code == 400
    html = parse_html(response.text)
    [field] = [i for i in html.inputs if i.get("name") == "name"]
    assert field.get("value") == name and field.get("aria-invalid") == "true"
    assert "may not contain < or >" in html.text
    assert "<script>alert(1)" not in response.text
    assert library_ids(engine, uid) == {}
    # Renaming to markup: the same, and the old name stays.
    web.submit("/library/collections", {"name": "Fine"}, page="/library")
    fine = collection_id(engine, uid, "Fine")
    bad = web.submit(f"/library/{fine}/rename", {"name": "a > b"}, page=f"/library/{fine}")
    assert bad.status_code == 400 and "may not contain" in bad.text
    assert list(library_ids(engine, uid)) == ["Fine"]


def test_upvotes_page_lists_what_was_upvoted(web: Web, engine: Engine) -> None:
    sign_in(web, engine)
    web.submit(f"/papers/{OLD_ID}/upvote", {"vote": "1"}, page="/")
    html = page(web, "/library/upvotes")
    assert f"/papers/{OLD_ID}" in html.hrefs() and f"/papers/{TOP_ID}" not in html.hrefs()


BIBTEX = f"""@misc{{top, title={{A paper}}, eprint={{{TOP_ID}}}, archivePrefix={{arXiv}}}}
@article{{book, title={{A journal article \\emph{{not}} on arXiv}}, journal={{Nature}}}}
@misc{{gone, title={{Unknown}}, url={{https://arxiv.org/abs/2609.99999}}}}
"""


def test_import_bibtex_reports_every_entry_and_export_round_trips(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    token = web.csrf("/library")
    response = web.post(
        "/library/import",
        data={"csrf_token": token, "collection": ""},
        files={"file": ("library.bib", BIBTEX.encode(), "application/x-bibtex")},
    )
    assert response.status_code == 200, response.text[:500]
    text = parse_html(response.text).text
    assert "Already here: 1" in text and "Not found on arXiv: 1" in text and "Not arXiv papers: 1" in text
    assert "2609.99999" in text and "A journal article" in text
    assert library_ids(engine, uid) == {"Saved": [TOP_ID]}

    saved = collection_id(engine, uid, "Saved")
    bib = web.get(f"/library/{saved}/export.bib")
    assert bib.status_code == 200 and "attachment" in bib.headers["content-disposition"]
    assert re.search(rf"eprint = {{+{re.escape(TOP_ID)}}}+", bib.text)
    csl = web.get(f"/library/{saved}/export.json")
    items = json.loads(csl.text)
    assert [i.get("number") or i.get("id") for i in items] and TOP_ID in csl.text

    # Pasted ids and URLs, in any spelling papers/ids.py accepts.
    pasted = web.post(
        "/library/import",
        data={
            "csrf_token": token,
            "text": f"https://arxiv.org/abs/{OLD_ID}v2\narXiv:{TOP_ID}",
            "collection": "",
        },
    )
    assert pasted.status_code == 200 and "Already here: 2" in parse_html(pasted.text).text
    assert sorted(library_ids(engine, uid)["Saved"]) == sorted([TOP_ID, OLD_ID])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x00\x01\x02binary\xff\xfe" * 100, ""),
        (b"@misc{x," + b"a" * 5_000_001, "5 MB"),
        (b"@misc{broken, title={unclosed", ""),
        (b"", "Choose a file"),
    ],
)
def test_hostile_import_is_a_clear_400_and_changes_nothing(
    web: Web, engine: Engine, data: bytes, message: str
) -> None:
    uid = sign_in(web, engine)
    web.submit(f"/papers/{TOP_ID}/save", {}, page="/")
    response = web.post(
        "/library/import",
        data={"csrf_token": web.csrf("/library")},
        files={"file": ("evil.bib", data, "application/octet-stream")},
    )
    assert response.status_code == 400, response.text[:300]
    html = parse_html(response.text)
    assert any("error-message" in t for t in [response.text]) and message in html.text
    assert library_ids(engine, uid) == {"Saved": [TOP_ID]}


def test_paper_page_cites_in_bibtex_without_javascript(web: Web) -> None:
    html = web.get(f"/papers/{TOP_ID}").text
    assert "<details" in html and "Cite (BibTeX)" in html
    assert re.search(rf"eprint = {{+{re.escape(TOP_ID)}}}+", html)


def test_for_you_with_reasons_not_interested_and_an_empty_library(web: Web, engine: Engine) -> None:
    uid = sign_in(web, engine)
    empty = page(web, "/for-you")
    assert "Nothing to go on yet" in empty.text
    # Follow the first author of a sample-day paper: their paper comes with "by <author>".
    with reading(engine) as conn:
        from papertrend.papers import repository

        other = repository.get(conn=conn, paper_id=OTHER_ID)
    assert other is not None and other.authors
    author = other.authors[0]
    followed = web.submit(f"/authors/{quote(author, safe='')}/follow", {"follow": "1"}, page="/")
    assert followed.status_code == 303
    web.submit(f"/papers/{TOP_ID}/save", {}, page="/")
    html = web.get("/for-you").text
    assert f"/papers/{OTHER_ID}" in html and f"by {author}" in parse_html(html).text
    # Never a paper already in the library.
    assert f'href="/papers/{TOP_ID}"' not in html
    gone = web.submit(f"/papers/{OTHER_ID}/not-interested", {"next": "/for-you"}, page="/for-you")
    assert gone.status_code == 303 and gone.headers["location"] == "/for-you"
    assert f'href="/papers/{OTHER_ID}"' not in web.get("/for-you").text
    with reading(engine) as conn:
        assert library_repo.feedback_pks(conn=conn, user_id=uid, kind=service.NOT_INTERESTED)


def test_author_page_lists_their_papers_with_a_feed_and_follow(web: Web, engine: Engine) -> None:
    with reading(engine) as conn:
        from papertrend.papers import repository

        top = repository.get(conn=conn, paper_id=TOP_ID)
    assert top is not None
    author = top.authors[-1]
    home = page(web, "/")
    assert f"/authors/{quote(author, safe='')}" in home.hrefs() or any(
        h.startswith("/authors/") for h in home.hrefs()
    )
    html = page(web, f"/authors/{quote(author, safe='')}")
    assert f"/papers/{TOP_ID}" in html.hrefs()
    assert html.alternates("application/atom+xml")
    feed = web.get(f"/authors/{quote(author, safe='')}.atom")
    assert feed.status_code == 200 and TOP_ID in feed.text
    # Markup in an author's name is text; the page of an unknown author is empty, not an error.
    hostile = page(web, f"/authors/{quote(HOSTILE_AUTHOR, safe='')}")
    assert (
        "<b>Mallory</b>" not in hostile.text
        or "&lt;b&gt;" in web.get(f"/authors/{quote(HOSTILE_AUTHOR, safe='')}").text
    )
    assert page(web, "/authors/Nobody%20At%20All").text.count("No papers by") == 1
    uid = sign_in(web, engine)
    web.submit(f"/authors/{quote(author, safe='')}/follow", {"follow": "1"}, page="/")
    with reading(engine) as conn:
        assert service.followed_authors(conn=conn, user_id=uid) == [author]
    assert "Following" in web.get(f"/authors/{quote(author, safe='')}").text
    web.submit(f"/authors/{quote(author, safe='')}/follow", {"follow": "0"}, page="/")
    with reading(engine) as conn:
        assert service.followed_authors(conn=conn, user_id=uid) == []


def test_an_old_for_you_window_is_served_while_a_thread_builds_the_next(
    web: Web, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    sign_in(web, engine)
    web.submit(f"/papers/{TOP_ID}/save", {}, page="/")
    built_in: list[str] = []
    build = foryou.window

    def window(**kwargs: Any) -> foryou.Window:
        built_in.append(threading.current_thread().name)
        return build(**kwargs)

    monkeypatch.setattr(foryou, "window", window)
    first = web.get("/for-you").text
    state = web.app.state.papertrend
    [key] = [k for k in state.caches if k[0] == "foryou-window"]
    built_at, old = state.caches[key]
    assert built_in and built_in[-1] != "foryou-window"  # the first window is built in the request
    state.caches[key] = (built_at - foryou_page.WINDOW_SECONDS - 1, old)
    assert web.get("/for-you").text == first  # served from the old window at once
    for thread in threading.enumerate():
        if thread.name == "foryou-window":
            thread.join(timeout=60)
    assert built_in[-1] == "foryou-window" and len(built_in) == 2
    assert state.caches[key][1] is not old and state.caches[key][0] > built_at - 1
    assert web.get("/for-you").text == first
