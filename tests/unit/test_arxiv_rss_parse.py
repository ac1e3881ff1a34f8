"""parse() of arxiv-rss on recorded real feeds, plus hand-made variations of them (issue #2)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from papertrend.errors import SourceError
from papertrend.ingest.base import Parsed, RawBatch
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources.arxiv_rss import ArxivRssSource
from tests.unit.arxiv_parsing import by_id


def rss_source(client: PoliteClient, announce_types: frozenset[str] | None = None) -> ArxivRssSource:
    base, categories = "http://127.0.0.1/rss", ["cs.AI"]
    if announce_types is None:
        return ArxivRssSource(client=client, base_url=base, categories=categories)
    return ArxivRssSource(client=client, base_url=base, categories=categories, announce_types=announce_types)


RSS = "rss/rss_arxiv_org_2026-04-27"


def parse_feed(source: ArxivRssSource, path: Path, category: str) -> Parsed:
    return source.parse(RawBatch((category, path.read_bytes()), f"http://127.0.0.1/rss/{category}"))


def test_rss_cs_ai(client: PoliteClient, fixtures: Path) -> None:
    parsed = parse_feed(rss_source(client), fixtures / RSS / "arxiv_cs_ai.xml", "cs.AI")
    papers = by_id(parsed)
    assert list(papers) == ["2604.21935", "2604.21936", "2604.21937"]
    assert parsed.rejected == []
    p = papers["2604.21935"]
    assert (p.version, p.source, p.authoritative) == (1, "arxiv-rss", True)
    assert p.title == "Math Takes Two: A test for emergent mathematical reasoning in communication"
    assert p.authors == ["Michael Cooper", "Samuel Cooper"]
    assert p.categories == ["cs.AI", "cs.LG"]
    # The "arXiv:… Announce Type: new" preamble is not part of the abstract.
    assert p.abstract.startswith("Although language models demonstrate remarkable proficiency")
    assert "Announce Type" not in p.abstract
    assert p.listed_on == date(2026, 4, 27)
    assert p.license == "http://creativecommons.org/licenses/by/4.0/"
    assert p.pdf_url == "https://arxiv.org/pdf/2604.21935"
    assert p.published_at is None
    assert len(papers["2604.21936"].authors) == 18
    assert papers["2604.21936"].categories == ["cs.AI", "cs.CV", "cs.MA"]
    assert len(papers["2604.21937"].authors) == 17
    assert papers["2604.21937"].authors[-1] == "Zhengwei Xie"


def test_rss_cs_cl_and_cs_lg(client: PoliteClient, fixtures: Path) -> None:
    cl = by_id(parse_feed(rss_source(client), fixtures / RSS / "arxiv_cs_cl.xml", "cs.CL"))
    assert list(cl) == ["2604.22002", "2604.22027", "2604.22038"]
    # "Ratna Kandala,  Deepti": a double space in the feed, a clean one-word name here.
    assert cl["2604.22002"].authors == [
        "Anamta Khan",
        "Ratna Kandala",
        "Deepti",
        "Sheza Munir",
        "Joyojeet Pal",
    ]
    assert cl["2604.22027"].categories == ["cs.CL", "cs.AI", "cs.LG"]
    lg = by_id(parse_feed(rss_source(client), fixtures / RSS / "arxiv_cs_lg.xml", "cs.LG"))
    assert list(lg) == ["2604.21952", "2604.21953", "2604.21956"]
    assert lg["2604.21952"].categories == ["cs.LG", "cs.AI", "cs.AR", "cs.NE", "cs.RO"]
    assert all(p.listed_on == date(2026, 4, 27) for p in lg.values())


def _retyped(text: str, guid: str, announce: str, *, new_guid: str, categories: str | None = None) -> str:
    """The feed with one item turned into another announce type (the recordings hold only `new`)."""
    start = text.index(f'<guid isPermaLink="false">oai:arXiv.org:{guid}</guid>')
    end = text.index("</item>", start)
    item = text[start:end].replace(
        "<arxiv:announce_type>new</arxiv:announce_type>",
        f"<arxiv:announce_type>{announce}</arxiv:announce_type>",
    )
    item = item.replace(guid, new_guid)
    if categories is not None:
        cut = item.index("<category>")
        item = item[:cut] + categories + item[item.index("<pubDate>") :]
    return text[:start] + item + text[end:]


def test_rss_announce_types(client: PoliteClient, fixtures: Path) -> None:
    text = (fixtures / RSS / "arxiv_cs_ai.xml").read_text()
    text = _retyped(text, "2604.21936v1", "replace", new_guid="2604.21936v3")
    text = _retyped(
        text,
        "2604.21937v1",
        "cross",
        new_guid="2604.21937v1",
        categories="<category>cs.MA</category><category>cs.AI</category>",
    )
    body = ("cs.AI", text.encode())
    every = by_id(rss_source(client).parse(RawBatch(body, "feed")))
    assert list(every) == ["2604.21935", "2604.21936", "2604.21937"]
    replaced = every["2604.21936"]
    assert replaced.version == 3
    # A replacement was first listed long ago: its announcement day is not its listing day.
    assert replaced.listed_on is None
    cross = every["2604.21937"]
    assert cross.listed_on == date(2026, 4, 27)
    assert cross.categories == ["cs.MA", "cs.AI"]  # the feed's category is not its primary
    only_new = rss_source(client, announce_types=frozenset({"new"})).parse(RawBatch(body, "feed"))
    assert [p.id for p in only_new.papers] == ["2604.21935"]
    assert only_new.rejected == []


def test_rss_empty_feed_on_a_weekend(client: PoliteClient, fixtures: Path) -> None:
    text = (fixtures / RSS / "arxiv_cs_ai.xml").read_text()
    empty = text[: text.index("<item>")] + text[text.rindex("</item>") + len("</item>") :]
    parsed = rss_source(client).parse(RawBatch(("cs.AI", empty.encode()), "feed"))
    assert parsed.papers == [] and parsed.rejected == []


def test_rss_malformed_and_bad_items(client: PoliteClient, fixtures: Path) -> None:
    raw = (fixtures / RSS / "arxiv_cs_ai.xml").read_bytes()
    truncated = RawBatch(("cs.AI", raw[:2000]), "http://127.0.0.1/rss/cs.AI")
    with pytest.raises(SourceError, match=r"^http://127\.0\.0\.1/rss/cs\.AI: malformed XML"):
        rss_source(client).parse(truncated)
    text = raw.decode().replace(
        "<title>Math Takes Two: A test for emergent mathematical reasoning in communication</title>",
        "<title></title>",
    )
    parsed = rss_source(client).parse(RawBatch(("cs.AI", text.encode()), "feed"))
    assert [p.id for p in parsed.papers] == ["2604.21936", "2604.21937"]
    assert [(r.record, r.reason) for r in parsed.rejected] == [
        ("oai:arXiv.org:2604.21935v1", "2604.21935: missing title")
    ]
