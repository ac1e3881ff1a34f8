"""parse() of arxiv-api (Atom) on recorded real responses, plus hand-made variations of them for the
cases the recordings lack (issue #2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from papertrend.errors import SourceError
from papertrend.ingest.base import RawBatch
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from tests.unit.arxiv_parsing import by_id, parse_file, parse_text, utc


@pytest.fixture(scope="module")
def api(client: PoliteClient) -> ArxivApiSource:
    return ArxivApiSource(client=client, base_url="http://127.0.0.1/api/query", query="all:testing")


API_2016 = "api_atom/recorded_2016_arxiv_py"
API_2026 = "api_atom/recorded_2026_arxiv_py"


def test_api_2016_style_entry(api: ArxivApiSource, fixtures: Path) -> None:
    parsed = parse_file(api, fixtures / API_2016 / "id_list=1111.2011v2.xml")
    assert parsed.rejected == []
    [p] = parsed.papers
    assert (p.id, p.version, p.source, p.authoritative) == ("1111.2011", 2, "arxiv-api", True)
    # The title is wrapped over two lines in the feed; the hard wrap becomes one space.
    assert (
        p.title == "Quantum Criticality for Extended Nodes on a Bethe Lattice in the Large Connectivity Limit"
    )
    assert p.authors == ["James M. Murray", "Adrian Del Maestro", "Zlatko Tesanovic"]
    assert p.categories == ["cond-mat.str-el", "cond-mat.stat-mech"]
    assert p.abstract.startswith(
        "Theoretical description of anisotropic systems, such as layered superconductors"
    )
    assert "\n" not in p.abstract and "  " not in p.abstract
    assert p.comment == "8 pages, 3 figures. Published version"
    assert p.journal_ref == "Phys. Rev. B 85, 115117 (2012)"
    assert p.doi == "10.1103/PhysRevB.85.115117"
    assert p.published_at == utc(2011, 11, 8, 18, 48, 36)
    assert p.updated_at == utc(2012, 4, 2, 12, 38, 54)
    # The 2016 feed links over http; stored links are https.
    assert p.pdf_url == "https://arxiv.org/pdf/1111.2011v2"
    assert p.license is None and p.listed_on is None


def test_api_2016_search_with_old_style_ids(api: ArxivApiSource, fixtures: Path) -> None:
    parsed = parse_file(api, fixtures / API_2016 / "search_query=au_del_maestro.xml")
    papers = by_id(parsed)
    assert len(parsed.papers) == 10 and parsed.rejected == []
    assert list(papers)[:3] == ["1201.4869", "cond-mat/0412498", "cond-mat/0603029"]
    old = papers["cond-mat/0603029"]
    assert old.version == 1
    assert (
        old.title
        == "From stripe to checkerboard order on the square lattice in the presence of quenched disorder"
    )
    assert old.authors == ["Adrian Del Maestro", "Bernd Rosenow", "Subir Sachdev"]
    assert old.categories == ["cond-mat.str-el", "cond-mat.supr-con"]
    assert old.journal_ref == "Phys. Rev. B 74, 024520 (2006)"
    assert old.published_at == utc(2006, 3, 2, 2, 22, 45)


def test_api_2016_and_query_has_revised_old_style_paper(api: ArxivApiSource, fixtures: Path) -> None:
    parsed = parse_file(
        api, fixtures / API_2016 / "search_query=au_del_maestro+AND+ti__quantum+criticality_.xml"
    )
    papers = by_id(parsed)
    assert list(papers) == ["1111.2011", "cond-mat/0607501"]
    p = papers["cond-mat/0607501"]
    assert p.version == 2
    assert p.authors == ["R. G. Melko", "A. Del Maestro", "A. A. Burkov"]
    assert (p.published_at, p.updated_at) == (utc(2006, 7, 19, 20, 12, 54), utc(2006, 11, 6, 19, 33, 40))
    assert p.pdf_url == "https://arxiv.org/pdf/cond-mat/0607501v2"


def test_api_2026_style_old_id_with_affiliations(api: ArxivApiSource, fixtures: Path) -> None:
    [p] = parse_file(api, fixtures / API_2026 / "id_astro-ph_0601001_s0_m100_3150dca9dc76.body.xml").papers
    assert (p.id, p.version) == ("astro-ph/0601001", 1)
    assert p.title == (
        "Frequency of Hot Jupiters and Very Hot Jupiters from the OGLE-III Transit Surveys Toward the "
        "Galactic Bulge and Carina"
    )
    # <arxiv:affiliation> sits inside <author>; it must not leak into the name.
    assert p.authors == ["Andrew Gould", "Susan Dorsher", "B. Scott Gaudi", "Andrzej Udalski"]
    assert p.categories == ["astro-ph"]
    assert p.journal_ref == "ActaAstron.56:1-50,2006"
    assert p.comment is not None and p.comment.startswith("62 pages including 16 figures and 9 tables.")
    assert "V_max<17.5" in p.abstract  # entities decoded
    assert p.published_at == utc(2006, 1, 2, 14, 57, 58)
    assert p.pdf_url == "https://arxiv.org/pdf/astro-ph/0601001v1"


def test_api_2026_style_primary_first_and_no_doi(api: ArxivApiSource, fixtures: Path) -> None:
    [p] = parse_file(api, fixtures / API_2026 / "id_quant-ph_0201082v1_s0_m100_86989fe779ef.body.xml").papers
    assert (p.id, p.version) == ("quant-ph/0201082", 1)
    assert p.categories == ["quant-ph", "cs.PL"]
    assert p.authors == ["Stephen Blaha"]
    assert p.comment == "32 pages"
    assert p.doi is None and p.journal_ref is None


def test_api_many_authors_and_repaired_encoding(api: ArxivApiSource, fixtures: Path) -> None:
    for name in (
        "id_1707.08567_s0_m100_6a1afebfc6a3.body.xml",
        "id_0808.05394_1707.08567_s0_m100_42e5aa0ec3af.body.xml",
    ):
        [p] = parse_file(api, fixtures / API_2026 / name).papers
        assert p.id == "1707.08567"
        assert p.title == "Proceedings of Workshop AEW10: Concepts in Information Theory and Communications"
        assert len(p.authors) == 34
        assert p.authors[0] == "Kees A. Schouhamer Immink"
        # The recording carries "Dirk WÃ¼bben" (UTF-8 read as Latin-1 upstream); we store the real name.
        assert p.authors[-3:] == ["Tadashi Wadayama", "Dirk Wübben", "Hirosuke Yamamoto"]
        assert p.categories == ["cs.IT"]


def test_api_title_zero_is_a_title(api: ArxivApiSource, fixtures: Path) -> None:
    [p] = parse_file(api, fixtures / API_2026 / "id_2104.12255v1_s0_m100_6ae69987ffe1.body.xml").papers
    assert (p.id, p.version, p.title) == ("2104.12255", 1, "0")
    assert p.categories == ["cs.CR"]
    assert p.comment is None


def test_api_search_page_of_100(api: ArxivApiSource, fixtures: Path) -> None:
    parsed = parse_file(api, fixtures / API_2026 / "q_testing_s0_m100_cfe7536492ca.body.xml")
    assert len(parsed.papers) == 100 and parsed.rejected == []
    assert all(p.published_at and p.published_at.tzinfo for p in parsed.papers)
    assert all(p.categories and p.version for p in parsed.papers)
    p = by_id(parsed)["2005.14124"]
    assert p.version == 2
    assert p.title == "Active Fuzzing for Testing and Securing Cyber-Physical Systems"
    assert p.authors == ["Yuqi Chen", "Bohan Xuan", "Christopher M. Poskitt", "Jun Sun", "Fan Zhang"]
    assert p.categories == ["cs.SE", "cs.CR", "cs.LG"]
    assert p.doi == "10.1145/3395363.3397376"
    assert (p.published_at, p.updated_at) == (utc(2020, 5, 28, 16, 19, 50), utc(2020, 7, 16, 8, 15, 48))
    assert by_id(parsed)["2405.13786"].authors[:3] == ["Aurora Ramírez", "Mario Berrios", "José Raúl Romero"]


@pytest.mark.parametrize(
    "name",
    [
        "q_testing_s0_m10_bc5a6c384fe9.body.xml",
        "q_testing_s10_m10_34e56e15aaac.body.xml",
        "q_testing_s5_m15_bbcf6b23085b.body.xml",
        "q_testing_s9_m15_0b78d4b4d476.body.xml",
    ],
)
def test_api_search_pages_parse_whole(api: ArxivApiSource, fixtures: Path, name: str) -> None:
    parsed = parse_file(api, fixtures / API_2026 / name)
    expected = 15 if "_m15_" in name else 10
    assert len(parsed.papers) == expected and parsed.rejected == []


def test_api_paged_windows_overlap_consistently(api: ArxivApiSource, fixtures: Path) -> None:
    # start=5,max=10 is the tail of page 0 plus the head of page 10, in the same order.
    first = [
        p.id for p in parse_file(api, fixtures / API_2026 / "q_testing_s0_m10_bc5a6c384fe9.body.xml").papers
    ]
    second = [
        p.id for p in parse_file(api, fixtures / API_2026 / "q_testing_s10_m10_34e56e15aaac.body.xml").papers
    ]
    middle = [
        p.id for p in parse_file(api, fixtures / API_2026 / "q_testing_s5_m10_c0e94a259d4a.body.xml").papers
    ]
    assert middle == first[5:] + second[:5]
    assert first[:3] == ["2202.12139", "2405.13786", "2005.14124"]


@pytest.mark.parametrize(
    "name", ["id_0000.0000_s0_m100_8b51d9633a68.body.xml", "id_0808.05394_s0_m100_7b0c7d0a7cdd.body.xml"]
)
def test_api_feed_without_entries(api: ArxivApiSource, fixtures: Path, name: str) -> None:
    parsed = parse_file(api, fixtures / API_2026 / name)
    assert parsed.papers == [] and parsed.rejected == []


def test_api_error_feed_is_a_source_error(api: ArxivApiSource, fixtures: Path) -> None:
    with pytest.raises(SourceError, match="incorrect id format for abc") as err:
        parse_file(api, fixtures / API_2026 / "id_abc_s0_m100_b79c8dcf6bc3.body.xml")
    assert "id_abc_s0_m100_b79c8dcf6bc3.body.xml" in err.value.message


def test_api_malformed_xml_names_the_origin(api: ArxivApiSource, fixtures: Path) -> None:
    body = (fixtures / API_2016 / "id_list=1111.2011v2.xml").read_bytes()[:1500]
    with pytest.raises(SourceError, match=r"^http://export\.arxiv\.org/api/query\?id_list=x: malformed XML"):
        api.parse(RawBatch(body, "http://export.arxiv.org/api/query?id_list=x"))


def test_api_html_instead_of_a_feed(api: ArxivApiSource) -> None:
    with pytest.raises(SourceError, match="expected <feed>, got <html>"):
        parse_text(api, "<html><body>Service unavailable</body></html>")


def test_api_bad_records_are_rejected_and_the_rest_kept(api: ArxivApiSource, fixtures: Path) -> None:
    text = (fixtures / API_2016 / "search_query=au_del_maestro.xml").read_text()
    text = text.replace(
        "<id>http://arxiv.org/abs/1201.4869v1</id>", "<id>http://arxiv.org/abs/not-an-id</id>", 1
    )
    text = text.replace("<id>http://arxiv.org/abs/cond-mat/0412498v1</id>", "<id> </id>", 1)
    text = re.sub(r"<title>From stripe to checkerboard[^<]*</title>", "<title>  </title>", text, count=1)
    parsed = parse_text(api, text, origin="q")
    assert len(parsed.papers) == 7
    reasons = [(r.record, r.reason) for r in parsed.rejected]
    assert len(reasons) == 3
    assert reasons[0][0] == "http://arxiv.org/abs/not-an-id" and "not an arXiv id" in reasons[0][1]
    assert reasons[1] == ("q entry 2", "missing id")
    assert reasons[2] == ("http://arxiv.org/abs/cond-mat/0603029v1", "cond-mat/0603029: missing title")
    assert all(r.source == "arxiv-api" for r in parsed.rejected)


def test_api_primary_category_goes_first_wherever_it_is_listed(api: ArxivApiSource, fixtures: Path) -> None:
    text = (fixtures / API_2026 / "id_quant-ph_0201082v1_s0_m100_86989fe779ef.body.xml").read_text()
    text = text.replace('<arxiv:primary_category term="quant-ph"/>', '<arxiv:primary_category term="cs.PL"/>')
    [p] = parse_text(api, text).papers
    assert p.categories == ["cs.PL", "quant-ph"]
