"""The arXiv sources end to end: real HTTP to a local replay server serving recorded responses,
through PoliteClient and run_ingest into a migrated SQLite database (issue #2).

Time is faked (PoliteClient's `sleep` and `clock`) so that waits are asserted, not spent.
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from papertrend.ingest.cursors import get_cursor
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from papertrend.ingest.sources.arxiv_oai import ArxivOaiSource
from papertrend.ingest.sources.arxiv_rss import ArxivRssSource
from papertrend.papers import repository
from tests.fakes import FakeTime
from tests.integration.arxiv_support import API_2026, USER_AGENT, make_client
from tests.replay import ReplayServer, Reply

RAW = "arxiv_api_fixtures/oai_pmh/arXivOAIHarvester_arXivRaw"
HEP = "arxiv_api_fixtures/oai_pmh/hepcrawl_arXiv"
RSS = "arxiv_api_fixtures/rss/rss_arxiv_org_2026-04-27"

TESTING_PAGES = {
    0: "q_testing_s0_m10_bc5a6c384fe9.body.xml",
    10: "q_testing_s10_m10_34e56e15aaac.body.xml",
    20: "q_testing_s20_m10_348a237fecab.body.xml",
    30: "q_testing_s30_m10_f2e39f0143dc.body.xml",
    40: "q_testing_s40_m10_96dd32eb854c.body.xml",
    50: "q_testing_s50_m10_7f488ab8598c.body.xml",
}
FIRST_TOKEN = "726959|1001"  # the resumptionToken that ends ListRecordsResponse.xml


def paper_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return repository.count(conn=conn)


def cursor_of(engine: Engine, source: str, key: str) -> dict[str, object] | None:
    with engine.connect() as conn:
        return get_cursor(conn=conn, source=source, key=key)


# --- arxiv-api ------------------------------------------------------------------------------------


def serve_testing_pages(replay: ReplayServer, fixture_data: Path) -> None:
    for start, name in TESTING_PAGES.items():
        replay.add("/api/query", fixture_data / API_2026 / name, query={"start": str(start)})


def test_api_pages_politely_up_to_max_results(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    serve_testing_pages(replay, fixture_data)
    fake = FakeTime()
    with make_client(fake, min_interval=3.0) as client:
        source = ArxivApiSource(
            client=client, base_url=f"{replay.url}/api/query", query="testing", page_size=10, max_results=60
        )
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert (report.batches, report.added, report.rejected) == (6, 60, 0)
    assert [r.query["start"] for r in replay.requests] == ["0", "10", "20", "30", "40", "50"]
    for seen in replay.requests:
        assert seen.path == "/api/query"
        assert seen.query["search_query"] == "testing" and seen.query["id_list"] == ""
        assert seen.query["max_results"] == "10"
        assert (seen.query["sortBy"], seen.query["sortOrder"]) == ("submittedDate", "descending")
        assert seen.headers["User-Agent"] == USER_AGENT
    # arXiv asks for 3 s between calls: five waits for six requests, none before the first.
    assert fake.sleeps == [3.0] * 5
    assert paper_count(engine) == 60
    with engine.connect() as conn:
        p = repository.get(conn=conn, paper_id="2005.14124")
    assert p is not None and p.version == 2 and p.primary_category == "cs.SE"
    assert p.sources == ["arxiv-api"]
    # A finished search forgets its position: the next run starts again from the newest.
    assert cursor_of(engine, "arxiv-api", source.cursor_key()) is None


def test_api_stops_at_total_results(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    replay.add(
        "/api/query",
        fixture_data / API_2026 / "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.body.xml",
        query={"id_list": "0808.05394,1707.08567"},
    )
    with make_client(FakeTime(), min_interval=3.0) as client:
        source = ArxivApiSource(
            client=client, base_url=f"{replay.url}/api/query", id_list=["0808.05394", "1707.08567"]
        )
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert report.added == 1
    assert len(replay.requests) == 1  # totalResults is 1: no second page asked for
    assert replay.requests[0].query["max_results"] == "100"
    with engine.connect() as conn:
        p = repository.get(conn=conn, paper_id="1707.08567")
    assert p is not None and len(p.authors) == 34


def test_api_stops_at_an_empty_page(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    replay.add("/api/query", fixture_data / API_2026 / TESTING_PAGES[0], query={"start": "0"})
    empty = fixture_data / API_2026 / "id_0000.0000_s0_m100_8b51d9633a68.body.xml"
    replay.add("/api/query", empty, query={"start": "10"})
    with make_client(FakeTime()) as client:
        source = ArxivApiSource(
            client=client, base_url=f"{replay.url}/api/query", query="testing", page_size=10
        )
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert [r.query["start"] for r in replay.requests] == ["0", "10"]
    assert report.added == 10


def test_api_resumes_after_a_failed_page(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    serve_testing_pages(replay, fixture_data)
    # Page 20 fails once (retries=0 makes that fatal), then works.
    replay.add(
        "/api/query",
        Reply(b"upstream trouble", status=500),
        fixture_data / API_2026 / TESTING_PAGES[20],
        query={"start": "20", "max_results": "10"},
    )
    fake = FakeTime()
    with make_client(fake, min_interval=3.0, retries=0) as client:
        source = ArxivApiSource(
            client=client, base_url=f"{replay.url}/api/query", query="testing", page_size=10, max_results=40
        )
        first = run_ingest(engine=engine, source=source)
        assert not first.ok and first.error is not None and "HTTP 500" in first.error
        assert first.added == 20
        assert cursor_of(engine, "arxiv-api", source.cursor_key()) == {"start": 20}
        before = len(replay.requests)
        second = run_ingest(engine=engine, source=source)
    assert second.ok, second.error
    assert [r.query["start"] for r in replay.requests[before:]] == ["20", "30"]
    assert second.added == 20
    assert paper_count(engine) == 40


def test_api_error_feed_fails_the_run(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    body = (fixture_data / API_2026 / "id_abc_s0_m100_b79c8dcf6bc3.body.xml").read_bytes()
    replay.add("/api/query", Reply(body, status=400), query={"id_list": "abc"})
    with make_client(FakeTime()) as client:
        source = ArxivApiSource(client=client, base_url=f"{replay.url}/api/query", id_list=["abc"])
        report = run_ingest(engine=engine, source=source)
    assert not report.ok
    assert report.error is not None
    assert "arXiv API error: incorrect id format for abc" in report.error
    assert "/api/query?" in report.error  # names the request
    assert len(replay.requests) == 1  # a 400 is not retried
    assert paper_count(engine) == 0


# --- arxiv-oai ------------------------------------------------------------------------------------


def second_page(fixture_data: Path) -> bytes:
    """A last ListRecords page: the real envelope of ListRecordsResponse.xml holding the one real
    record of GetRecordResponse.xml, ended by the empty resumptionToken that closes a list."""
    first = (fixture_data / RAW / "ListRecordsResponse.xml").read_text()
    single = (fixture_data / RAW / "GetRecordResponse.xml").read_text()
    record = single[single.index("<record>") : single.index("</record>") + len("</record>")]
    closing = '<resumptionToken cursor="6" completeListSize="7"/>\n</ListRecords>\n</OAI-PMH>\n'
    return (first[: first.index("<record>")] + record + "\n" + closing).encode()


def test_oai_follows_resumption_tokens_then_harvests_incrementally(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/oai", fixture_data / RAW / "ListRecordsResponse.xml", query={"metadataPrefix": "arXivRaw"})
    replay.add("/oai", second_page(fixture_data), query={"resumptionToken": FIRST_TOKEN})
    fake = FakeTime()
    with make_client(fake, min_interval=3.0) as client:
        source = ArxivOaiSource(
            client=client,
            base_url=f"{replay.url}/oai",
            from_date=date(2014, 10, 1),
            metadata_prefix="arXivRaw",
        )
        report = run_ingest(engine=engine, source=source)
        assert report.ok, report.error
        assert (report.batches, report.added) == (2, 7)
        assert [r.query for r in replay.requests] == [
            {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2014-10-01"},
            {"verb": "ListRecords", "resumptionToken": FIRST_TOKEN},
        ]
        assert fake.sleeps == [3.0]
        # Newest datestamp seen: 2014-12-22 (0704.0716); the last page's 2013-04-03 does not lower it.
        key = source.cursor_key()
        assert cursor_of(engine, "arxiv-oai", key) == {
            "token": None,
            "from": "2014-10-01",
            "datestamp": "2014-12-22",
        }
        with engine.connect() as conn:
            p = repository.get(conn=conn, paper_id="1302.2146")
        assert p is not None and p.version == 2 and p.authors[-1] == "Philip Tanedo"

        # The next day's run names no date: it goes on from the newest datestamp stored.
        no_records = fixture_data / RAW / "ErrorResponseNoRecordsMatch.xml"
        replay.add("/oai", no_records, query={"metadataPrefix": "arXivRaw", "from": "2014-12-22"})
        later = ArxivOaiSource(client=client, base_url=f"{replay.url}/oai", metadata_prefix="arXivRaw")
        assert later.cursor_key() == key
        again = run_ingest(engine=engine, source=later)
    assert again.ok, again.error
    assert (again.added, again.batches) == (0, 0)
    assert replay.requests[-1].query == {
        "verb": "ListRecords",
        "metadataPrefix": "arXivRaw",
        "from": "2014-12-22",
    }
    assert paper_count(engine) == 7


def test_oai_set_and_range_parameters(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    hep_ex = (
        fixture_data / HEP / "functional__arxiv__fixtures__http_server__records__arxiv-physics-hep-ex.xml"
    )
    replay.add("/oai", hep_ex, query={"set": "physics:hep-ex"})
    with make_client(FakeTime()) as client:
        source = ArxivOaiSource(
            client=client,
            base_url=f"{replay.url}/oai",
            set_spec="physics:hep-ex",
            from_date=date(2017, 12, 14),
            until=date(2017, 12, 15),
        )
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert report.added == 3
    assert replay.requests[0].query == {
        "verb": "ListRecords",
        "metadataPrefix": "arXiv",
        "set": "physics:hep-ex",
        "from": "2017-12-14",
        "until": "2017-12-15",
    }
    assert source.cursor_key() == "arXiv:physics:hep-ex:until=2017-12-15"


def test_oai_no_records_match_is_an_empty_success(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/oai", fixture_data / RAW / "ErrorResponseNoRecordsMatch.xml")
    with make_client(FakeTime()) as client:
        source = ArxivOaiSource(client=client, base_url=f"{replay.url}/oai", set_spec="moo")
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert (report.added, report.rejected, report.batches) == (0, 0, 0)


def test_oai_bad_resumption_token_fails(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    replay.add("/oai", fixture_data / RAW / "ListRecordsResponse.xml", query={"metadataPrefix": "arXivRaw"})
    replay.add(
        "/oai",
        fixture_data / RAW / "ErrorResponseBadResumptionToken.xml",
        query={"resumptionToken": FIRST_TOKEN},
    )
    with make_client(FakeTime()) as client:
        source = ArxivOaiSource(client=client, base_url=f"{replay.url}/oai", metadata_prefix="arXivRaw")
        report = run_ingest(engine=engine, source=source)
    assert not report.ok
    assert report.error is not None
    assert "OAI-PMH error badResumptionToken" in report.error
    assert "The resumptionToken supplied is illegal for this repository" in report.error
    assert report.added == 6  # the first page stays stored
    assert len(replay.requests) == 2


def test_oai_resumes_a_crashed_harvest_from_its_token(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/oai", fixture_data / RAW / "ListRecordsResponse.xml", query={"metadataPrefix": "arXivRaw"})
    token_route = replay.add(
        "/oai", Reply(b"down", status=502), second_page(fixture_data), query={"resumptionToken": FIRST_TOKEN}
    )
    with make_client(FakeTime(), retries=0) as client:
        source = ArxivOaiSource(
            client=client,
            base_url=f"{replay.url}/oai",
            from_date=date(2014, 10, 1),
            metadata_prefix="arXivRaw",
        )
        crashed = run_ingest(engine=engine, source=source)
        assert not crashed.ok and crashed.error is not None and "HTTP 502" in crashed.error
        assert cursor_of(engine, "arxiv-oai", source.cursor_key()) == {
            "token": FIRST_TOKEN,
            "from": "2014-10-01",
            "datestamp": "2014-12-22",
        }
        before = len(replay.requests)
        resumed = run_ingest(engine=engine, source=source)
    assert resumed.ok, resumed.error
    assert [r.query for r in replay.requests[before:]] == [
        {"verb": "ListRecords", "resumptionToken": FIRST_TOKEN}
    ]
    assert resumed.added == 1 and token_route.hits == 2
    assert paper_count(engine) == 7


def test_oai_restarts_when_a_saved_token_has_expired(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    first_route = replay.add(
        "/oai", fixture_data / RAW / "ListRecordsResponse.xml", query={"metadataPrefix": "arXivRaw"}
    )
    token_route = replay.add("/oai", Reply(b"down", status=503), query={"resumptionToken": FIRST_TOKEN})
    with make_client(FakeTime(), retries=0) as client:
        source = ArxivOaiSource(
            client=client,
            base_url=f"{replay.url}/oai",
            from_date=date(2014, 10, 1),
            metadata_prefix="arXivRaw",
        )
        assert not run_ingest(engine=engine, source=source).ok
        # Much later: the token has expired, and the list is now complete in one page.
        token_route.replies = [
            Reply((fixture_data / RAW / "ErrorResponseBadResumptionToken.xml").read_bytes())
        ]
        first_route.replies = [Reply(second_page(fixture_data))]
        before = len(replay.requests)
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert [r.query for r in replay.requests[before:]] == [
        {"verb": "ListRecords", "resumptionToken": FIRST_TOKEN},
        {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2014-10-01"},
    ]
    assert paper_count(engine) == 7


def test_oai_waits_out_503_retry_after(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    hep_th = (
        fixture_data / HEP / "functional__arxiv__fixtures__http_server__records__arxiv-physics-hep-th.xml"
    )
    replay.add("/oai", Reply(b"busy", status=503, headers={"Retry-After": "1"}), hep_th)
    fake = FakeTime()
    with make_client(fake) as client:
        source = ArxivOaiSource(client=client, base_url=f"{replay.url}/oai", set_spec="physics:hep-th")
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert report.added == 3
    assert len(replay.requests) == 2
    assert fake.sleeps == [1.0]  # exactly what Retry-After asked, not the exponential backoff


def test_oai_hanging_server_times_out_quickly(
    engine: Engine, replay: ReplayServer, fixture_data: Path
) -> None:
    replay.add("/oai", Reply((fixture_data / RAW / "ListRecordsResponse.xml").read_bytes(), delay=1.5))
    with PoliteClient(user_agent=USER_AGENT, timeout=0.2, retries=0) as client:
        source = ArxivOaiSource(client=client, base_url=f"{replay.url}/oai")
        t0 = time.perf_counter()
        report = run_ingest(engine=engine, source=source)
        elapsed = time.perf_counter() - t0
    assert not report.ok
    assert report.error is not None and "timed out" in report.error
    assert "verb=ListRecords" in report.error
    assert elapsed < 1.2
    assert paper_count(engine) == 0


def test_oai_malformed_page_fails_the_run(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    replay.add("/oai", (fixture_data / RAW / "ListRecordsResponse.xml").read_bytes()[:4000])
    with make_client(FakeTime()) as client:
        report = run_ingest(engine=engine, source=ArxivOaiSource(client=client, base_url=f"{replay.url}/oai"))
    assert not report.ok
    assert (
        report.error is not None
        and "malformed XML" in report.error
        and "/oai?verb=ListRecords" in report.error
    )
    assert paper_count(engine) == 0


# --- arxiv-rss ------------------------------------------------------------------------------------

FEEDS = {"cs.AI": "arxiv_cs_ai.xml", "cs.CL": "arxiv_cs_cl.xml", "cs.LG": "arxiv_cs_lg.xml"}


def test_rss_three_recorded_feeds(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    for category, name in FEEDS.items():
        replay.add(f"/rss/{category}", fixture_data / RSS / name)
    with make_client(FakeTime()) as client:
        source = ArxivRssSource(client=client, base_url=f"{replay.url}/rss/", categories=list(FEEDS))
        report = run_ingest(engine=engine, source=source)
        assert report.ok, report.error
        assert (report.batches, report.added, report.rejected) == (3, 9, 0)
        assert [r.path for r in replay.requests] == ["/rss/cs.AI", "/rss/cs.CL", "/rss/cs.LG"]
        assert source.cursor_key() == "cs.AI,cs.CL,cs.LG"
        assert cursor_of(engine, "arxiv-rss", source.cursor_key()) is None
        with engine.connect() as conn:
            p = repository.get(conn=conn, paper_id="2604.22027")
            day = repository.latest_day(conn=conn)
        assert p is not None
        assert p.listed_on == date(2026, 4, 27) and day == date(2026, 4, 27)
        assert p.categories == ["cs.CL", "cs.AI", "cs.LG"] and p.primary_category == "cs.CL"
        assert p.version == 1 and len(p.authors) == 8
        # The feed is the day's listing: reading it again changes nothing.
        again = run_ingest(engine=engine, source=source)
    assert again.ok and (again.added, again.updated, again.unchanged) == (0, 0, 9)


def test_rss_empty_feed(engine: Engine, replay: ReplayServer, fixture_data: Path) -> None:
    text = (fixture_data / RSS / "arxiv_cs_ai.xml").read_text()
    empty = text[: text.index("<item>")] + text[text.rindex("</item>") + len("</item>") :]
    replay.add("/rss/cs.AI", empty)
    with make_client(FakeTime()) as client:
        source = ArxivRssSource(client=client, base_url=f"{replay.url}/rss", categories=["cs.AI"])
        report = run_ingest(engine=engine, source=source)
    assert report.ok, report.error
    assert (report.batches, report.added) == (1, 0)


def test_rss_missing_feed_fails(engine: Engine, replay: ReplayServer) -> None:
    with make_client(FakeTime()) as client:
        source = ArxivRssSource(client=client, base_url=f"{replay.url}/rss", categories=["cs.XX"])
        report = run_ingest(engine=engine, source=source)
    assert not report.ok
    assert report.error is not None and "HTTP 404" in report.error and "/rss/cs.XX" in report.error


@pytest.mark.parametrize("status", [500, 503])
def test_api_gives_up_after_retries(engine: Engine, replay: ReplayServer, status: int) -> None:
    replay.add("/api/query", Reply(b"", status=status))
    fake = FakeTime()
    with make_client(fake, retries=2, backoff=1.0) as client:
        source = ArxivApiSource(client=client, base_url=f"{replay.url}/api/query", query="testing")
        report = run_ingest(engine=engine, source=source)
    assert not report.ok
    assert report.error is not None and f"HTTP {status}; gave up after 3 tries" in report.error
    assert len(replay.requests) == 3 and len(fake.sleeps) == 2
