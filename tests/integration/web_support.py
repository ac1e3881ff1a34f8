"""What the web tests share (issue #4): `Web` (an in-process client that keeps cookies and posts forms
with their CSRF token), the papers every web test loads (`load_papers`: a Hugging Face day, real arXiv
records on two listing days, hostile and old papers) and `parse_html` / `page`."""

from __future__ import annotations

import gzip
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import anyio
import httpx
import orjson
from fastapi import FastAPI
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.hf_daily import HfDailySource
from papertrend.ingest.sources.jsonl import JsonlSource
from papertrend.web.app import create_app

HF_SAMPLE = "hf_daily_papers/samples/2026-08-21.json"
LISTING = "arxiv_metadata/arxiv_cs_listings_head200.jsonl.gz"
SAMPLE_DAY = date(2026, 8, 21)
# Long after the data: trending must still rank by the papers' ages relative to each other.
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
TOP_ID = "2608.19880"  # the sample day's most upvoted paper (163)
# Real arXiv records, given two listing days with a gap between them for prev/next navigation.
ARXIV_DAYS = (date(2025, 3, 18), date(2025, 3, 21))
ARXIV_PER_DAY = 10

HOSTILE_ID = "2608.99901"
HOSTILE_TITLE = "<script>alert(1)</script> & a title"
HOSTILE_ABSTRACT = 'An abstract with <img src=x onerror="alert(2)"> in it and </p> too.'
HOSTILE_AUTHOR = "<b>Mallory</b>"
# An old paper with many votes, listed 4 days before the sample day (see the trending tests).
OLD_ID = "2608.99902"
OLD_DAY = date(2026, 8, 17)
OLD_VOTES = 300


class Web:
    """A client for one app; each call runs in its own event loop, so tests stay synchronous.

    Like a browser it keeps the cookies the app sets (session, CSRF) between calls; `submit` posts a
    form the way a browser does, with the CSRF token of the page that shows it (issue #4).
    """

    def __init__(self, app: FastAPI, *, base_url: str = "http://testserver") -> None:
        self.app = app
        self.base_url = base_url
        self.cookies = httpx.Cookies()

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        async def call() -> httpx.Response:
            # App errors become 500 responses, as a server would send them, not test exceptions.
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)
            async with httpx.AsyncClient(
                transport=transport, base_url=self.base_url, cookies=self.cookies
            ) as client:
                response = await client.request(method, url, **kwargs)
                self.cookies = client.cookies
                return response

        return anyio.run(call)

    def csrf(self, page: str = "/") -> str:
        """The CSRF token of the forms on `page`, fetched as a browser would (which sets the cookie)."""
        tokens = {
            i.get("value", "")
            for i in parse_html(self.get(page).text).inputs
            if i.get("name") == "csrf_token"
        }
        assert len(tokens) == 1, (page, tokens)
        return tokens.pop()

    def submit(
        self, url: str, data: dict[str, str] | None = None, *, page: str | None = None, **kwargs: Any
    ) -> httpx.Response:
        """POST a form to `url` with the CSRF token of `page` (default: `url` itself), as a browser does."""
        return self.post(url, data={**(data or {}), "csrf_token": self.csrf(page or url)}, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def make_web(settings: Settings, engine: Engine, *, clock: Callable[[], datetime] = lambda: NOW) -> Web:
    return Web(create_app(settings, engine=engine, clock=clock))


def hf_item(pid: str, title: str, upvotes: int, **paper: Any) -> dict[str, Any]:
    """One item as Hugging Face's daily papers API returns it."""
    return {
        "paper": {
            "id": pid,
            "title": title,
            "summary": paper.pop("summary", f"Abstract of {title}."),
            "authors": [{"name": n} for n in paper.pop("authors", ["Ada Lovelace"])],
            "upvotes": upvotes,
            **paper,
        },
        "numComments": 0,
    }


def write_hf_day(folder: Path, day: date, items: list[dict[str, Any]]) -> Path:
    """A saved day of Hugging Face daily papers; the source takes the day from the file name."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{day.isoformat()}.json"
    path.write_bytes(orjson.dumps(items))
    return path


def real_arxiv_records(fixture_data: Path) -> list[dict[str, Any]]:
    with gzip.open(fixture_data / LISTING, "rb") as fh:
        records = [orjson.loads(line) for line in itertools.islice(fh, ARXIV_PER_DAY * len(ARXIV_DAYS))]
    for i, record in enumerate(records):
        record["first_listed"] = ARXIV_DAYS[i // ARXIV_PER_DAY].isoformat()
    return records


def load_papers(engine: Engine, fixture_data: Path, folder: Path) -> None:
    """The real HF sample day (17 papers), 20 real arXiv papers on two days, a hostile and an old paper."""
    hostile = hf_item(
        HOSTILE_ID,
        HOSTILE_TITLE,
        0,
        summary=HOSTILE_ABSTRACT,
        authors=[HOSTILE_AUTHOR],
        githubRepo="javascript:alert(3)",
        projectPage='https://example.org/?a=<x>&b="y"',
    )
    old = hf_item(OLD_ID, "An old paper everybody upvoted", OLD_VOTES, githubStars=12)
    folder.mkdir(parents=True, exist_ok=True)
    jsonl = folder / "arxiv.jsonl"
    jsonl.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in real_arxiv_records(fixture_data)))
    sources = [
        HfDailySource(from_file=fixture_data / HF_SAMPLE),
        HfDailySource(from_file=write_hf_day(folder / "hostile", SAMPLE_DAY, [hostile])),
        HfDailySource(from_file=write_hf_day(folder, OLD_DAY, [old])),
        JsonlSource(path=jsonl),
    ]
    for source in sources:
        report = run_ingest(engine=engine, source=source)
        assert report.ok and report.rejected == 0, report.summary()


@dataclass
class Html:
    """What the tests look for in a page."""

    text: str = ""
    links: list[dict[str, str]] = field(default_factory=list)  # <link>
    anchors: list[dict[str, str]] = field(default_factory=list)  # <a>
    forms: list[dict[str, str]] = field(default_factory=list)
    inputs: list[dict[str, str]] = field(default_factory=list)
    scripts: list[dict[str, str]] = field(default_factory=list)
    inline_script: list[str] = field(default_factory=list)
    styles: int = 0  # <style> elements
    style_attrs: int = 0
    handler_attrs: list[str] = field(default_factory=list)  # onclick=, onerror=, …
    tags: list[str] = field(default_factory=list)

    def alternates(self, kind: str) -> list[str]:
        return [
            link["href"] for link in self.links if link.get("rel") == "alternate" and link.get("type") == kind
        ]

    def hrefs(self) -> list[str]:
        return [a.get("href", "") for a in self.anchors]


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = Html()
        self._in_script = False
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.out.tags.append(tag)
        self.out.style_attrs += "style" in a
        self.out.handler_attrs += [k for k in a if k.startswith("on")]
        if tag == "link":
            self.out.links.append(a)
        elif tag == "a":
            self.out.anchors.append(a)
        elif tag == "form":
            self.out.forms.append(a)
        elif tag in ("input", "button", "select"):
            self.out.inputs.append({"tag": tag, **a})
        elif tag == "script":
            self.out.scripts.append(a)
            self._in_script = True
        elif tag == "style":
            self.out.styles += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            if data.strip():
                self.out.inline_script.append(data)
        else:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self.out.text = " ".join(" ".join(self._text).split())


def parse_html(body: str) -> Html:
    parser = _Parser()
    parser.feed(body)
    parser.close()
    return parser.out


def page(web: Web, url: str, status: int = 200) -> Html:
    response = web.get(url)
    assert response.status_code == status, (url, response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    return parse_html(response.text)
