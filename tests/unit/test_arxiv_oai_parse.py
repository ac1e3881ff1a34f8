"""parse() of arxiv-oai (OAI-PMH: arXivRaw and arXiv formats) on recorded real responses, plus
hand-made variations of them for the cases the recordings lack (issue #2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from papertrend.errors import SourceError
from papertrend.ingest.base import RawBatch
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources._xml import repair_mojibake
from papertrend.ingest.sources.arxiv_oai import ArxivOaiSource, split_authors
from tests.unit.arxiv_parsing import by_id, parse_file, parse_text, utc


@pytest.fixture(scope="module")
def oai(client: PoliteClient) -> ArxivOaiSource:
    return ArxivOaiSource(client=client, base_url="http://127.0.0.1/oai")


RAW = "oai_pmh/arXivOAIHarvester_arXivRaw"
HEP = "oai_pmh/hepcrawl_arXiv"


def test_oai_arxivraw_list_records(oai: ArxivOaiSource, fixtures: Path) -> None:
    parsed = parse_file(oai, fixtures / RAW / "ListRecordsResponse.xml")
    papers = by_id(parsed)
    assert list(papers) == ["0704.0471", "0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586"]
    assert parsed.rejected == []
    p = papers["0704.0471"]
    assert p.source == "arxiv-oai" and p.authoritative
    assert p.title == (
        "Density dependence of the symmetry energy and the nuclear equation of state: "
        "A Dynamical and Statistical model perspective"
    )
    # "A, B, and C": the Oxford comma does not make an empty author or an "and G.A. Souliotis".
    assert p.authors == ["D.V. Shetty", "S.J. Yennello", "G.A. Souliotis"]
    assert p.categories == ["nucl-ex", "nucl-th"]
    assert p.version == 1
    assert p.published_at == p.updated_at == utc(2007, 4, 3, 22, 4, 11)
    # Two DOIs (paper, erratum): the paper's own comes first.
    assert p.doi == "10.1103/PhysRevC.76.024606"
    assert p.journal_ref == "Phys.Rev.C76:024606,2007; Erratum-ibid.C76:039902,2007"
    assert '"stiff"' not in p.abstract and '" stiff "' in p.abstract  # &quot; decoded
    assert p.license is None
    revised = papers["0704.0716"]
    assert revised.version == 4
    assert revised.published_at == utc(2007, 4, 5, 12, 45, 3)
    assert revised.updated_at == utc(2008, 11, 14, 9, 7, 25)
    assert revised.categories == ["math-ph", "math.MP"]
    assert revised.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert revised.comment == (
        "54 pages, 2 figures; v2 updated and slightly expanded; v3 changes in some proofs; "
        "v4 slightly expanded"
    )
    assert papers["0704.0874"].version == 3
    assert papers["0704.1109"].authors == ["Valeria M. Rosa", "Patricio S. letelier"]
    assert papers["0704.1114"].authors == ["T. S. Barman"]
    assert papers["0704.1586"].authors == ["N.C. Summers", "F.M. Nunes"]


def test_oai_arxivraw_get_record(oai: ArxivOaiSource, fixtures: Path) -> None:
    [p] = parse_file(oai, fixtures / RAW / "GetRecordResponse.xml").papers
    assert (p.id, p.version) == ("1302.2146", 2)
    assert p.title == "The Same-Sign Dilepton Signature of RPV/MFV SUSY"
    assert p.authors == ["Joshua Berger", "Maxim Perelstein", "Michael Saelim", "Philip Tanedo"]
    assert p.categories == ["hep-ph", "hep-ex"]
    assert p.published_at == utc(2013, 2, 8, 21, 0, 1)
    assert p.updated_at == utc(2013, 4, 2, 1, 50, 8)
    assert p.comment == "18 pages, 6 figures; v2: References added"
    assert p.pdf_url == "https://arxiv.org/pdf/1302.2146"


def test_oai_arxiv_format_list_records(oai: ArxivOaiSource, fixtures: Path) -> None:
    parsed = parse_file(
        oai, fixtures / HEP / "functional__arxiv__fixtures__http_server__records__arxiv-physics-hep-ex.xml"
    )
    papers = by_id(parsed)
    assert list(papers) == ["1706.05371", "1706.09418", "1707.00874"]
    p = papers["1706.05371"]
    assert (
        p.title == "Evaluation of Silicon Photomultipliers for use as Photosensors in Liquid Xenon Detectors"
    )
    assert len(p.authors) == 13
    assert p.authors[:2] == ["Tyler Anderson", "Jacob Cutter"] and p.authors[-1] == "Mani Tripathi"
    assert p.categories == ["physics.ins-det", "hep-ex"]
    assert p.published_at == utc(2017, 6, 16)
    assert p.updated_at == utc(2017, 12, 12)
    assert p.version is None  # the arXiv format does not say which version it describes
    assert p.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    q = papers["1706.09418"]
    assert q.journal_ref == "Eur. Phys. J. C (2017) 77:856"
    assert q.doi == "10.1140/epjc/s10052-017-5414-4"
    assert q.authors[2] == "Manuel E. Krauss"
    assert papers["1707.00874"].categories == ["hep-ph", "astro-ph.CO", "hep-ex"]


def test_oai_arxiv_format_hep_th(oai: ArxivOaiSource, fixtures: Path) -> None:
    papers = by_id(
        parse_file(
            oai,
            fixtures / HEP / "functional__arxiv__fixtures__http_server__records__arxiv-physics-hep-th.xml",
        )
    )
    assert list(papers) == ["1412.8323", "1507.07790", "1607.01710"]
    assert papers["1412.8323"].categories == [
        "quant-ph",
        "gr-qc",
        "hep-th",
        "math-ph",
        "math.MP",
        "physics.hist-ph",
    ]
    assert papers["1412.8323"].license == "http://creativecommons.org/licenses/by/4.0/"
    assert papers["1607.01710"].comment is None
    assert papers["1607.01710"].authors[3] == "A. de Souza Dutra"


def test_oai_arxiv_format_get_record(oai: ArxivOaiSource, fixtures: Path) -> None:
    [p] = parse_file(
        oai, fixtures / HEP / "functional__arxiv__fixtures__http_server__records__arxiv-single.xml"
    ).papers
    assert p.id == "1401.2122"
    assert p.authors == ["A. Sergyeyev"]
    assert p.categories[0] == "math.AP" and len(p.categories) == 6
    assert p.journal_ref == "Lett. Math. Phys. 108 (2018), no. 2, 359-376"
    assert (p.published_at, p.updated_at) == (utc(2014, 1, 9), utc(2017, 10, 23))


def test_oai_arxiv_without_its_namespace(oai: ArxivOaiSource, fixtures: Path) -> None:
    # hepcrawl's sample puts <arXiv> in no namespace of its own (it inherits the OAI envelope's).
    [p] = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record0.xml").papers
    assert p.id == "1601.03238"
    assert p.title == "Irreversible degradation of quantum coherence under relativistic motion"
    assert p.authors == ["Planck Collaboration", "Jieci Wang", "Zehua Tian", "Jiliang Jing", "Heng Fan"]
    assert p.categories == ["quant-ph", "gr-qc", "hep-th", "chao-dyn", "nlin.CD"]
    assert p.doi == "10.1103/PhysRevD.93.016005"  # the first of "a, b;c"
    assert p.journal_ref == "Phys.Rev. D93 (2015) 016005"
    assert p.license == "https://creativecommons.org/licenses/by/3.0/"
    # No <updated>: a paper never revised was last changed when it was created.
    assert p.published_at == p.updated_at == utc(2016, 1, 13)


def test_oai_mixed_namespaces_in_one_response(oai: ArxivOaiSource, fixtures: Path) -> None:
    parsed = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record.xml")
    assert [p.id for p in parsed.papers] == [
        "1601.03238",
        "1512.07978",
        "1603.00997",
        "1603.01251",
        "1603.05976",
        "1604.05585",
        "1606.06775",
        "1606.07066",
        "1606.07538",
        "1607.00786",
        "1606.04259",
        "1808.04927",
    ]
    assert parsed.rejected == []
    assert by_id(parsed)["1808.04927"].categories == ["hep-ex", "nucl-ex", "chao-dyn"]


def test_oai_author_edge_cases(oai: ArxivOaiSource, fixtures: Path) -> None:
    [bicep] = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record4.xml").papers
    # A collaboration list's ":" separator "author" is dropped; a suffix follows the name.
    assert ":" not in bicep.authors
    assert len(bicep.authors) == 65
    assert bicep.authors[:4] == ["Keck Array", "BICEP2 Collaborations", "P. Ade", "Z. Ahmed"]
    assert "R. W. IV" in bicep.authors
    [saxton] = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record7.xml").papers
    assert saxton.authors == ["Curtis J. Saxton", "Ziri Younsi", "Kinwah Wu"]  # affiliations left out
    [burigana] = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record5.xml").papers
    assert burigana.authors[0] == "Günter Burigana"
    [sk] = parse_file(oai, fixtures / HEP / "unit__responses__arxiv__sample_arxiv_record8.xml").papers
    assert sk.authors[0] == "Super-Kamiokande Collaboration" and sk.authors[-1] == "P. de Perio"
    assert len(sk.authors) == 7


@pytest.mark.parametrize(
    ("name", "code", "message"),
    [
        ("ErrorResponseBadArgument.xml", "badArgument", "illegal argument 'identifier'"),
        ("ErrorResponseBadResumptionToken.xml", "badResumptionToken", "resumptionToken supplied is illegal"),
        ("ErrorResponseBadVerb.xml", "badVerb", "Verb 'wah' not implemented"),
        ("ErrorResponseIdDoesNotExist.xml", "idDoesNotExist", "'oai:arXiv.org:0813.2274' has correct form"),
    ],
)
def test_oai_error_envelopes_fail(
    oai: ArxivOaiSource, fixtures: Path, name: str, code: str, message: str
) -> None:
    with pytest.raises(SourceError) as err:
        parse_file(oai, fixtures / RAW / name)
    assert f"OAI-PMH error {code}" in err.value.message
    assert message in err.value.message
    assert err.value.message.startswith(name)


def test_oai_no_records_match_is_an_empty_result(oai: ArxivOaiSource, fixtures: Path) -> None:
    parsed = parse_file(oai, fixtures / RAW / "ErrorResponseNoRecordsMatch.xml")
    assert parsed.papers == [] and parsed.rejected == []


def test_oai_deleted_records_are_skipped_not_rejected(oai: ArxivOaiSource, fixtures: Path) -> None:
    text = (fixtures / RAW / "ListRecordsResponse.xml").read_text()
    start = text.index("<record>")
    end = text.index("</record>") + len("</record>")
    deleted = (
        '<record><header status="deleted"><identifier>oai:arXiv.org:0704.0471</identifier>'
        "<datestamp>2014-11-18</datestamp></header></record>"
    )
    parsed = parse_text(oai, text[:start] + deleted + text[end:])
    assert [p.id for p in parsed.papers] == ["0704.0716", "0704.0874", "0704.1109", "0704.1114", "0704.1586"]
    assert parsed.rejected == []


def test_oai_record_without_title_is_rejected(oai: ArxivOaiSource, fixtures: Path) -> None:
    text = (fixtures / RAW / "ListRecordsResponse.xml").read_text()
    text = text.replace("<title>Limit distributions and scaling functions</title>", "", 1)
    text = text.replace("<id>0704.1114</id>", "<id>07041114</id>", 1)
    parsed = parse_text(oai, text)
    assert [p.id for p in parsed.papers] == ["0704.0471", "0704.0874", "0704.1109", "0704.1586"]
    assert [(r.record, r.reason.split(" (")[0]) for r in parsed.rejected] == [
        ("oai:arXiv.org:0704.0716", "0704.0716: missing title"),
        ("oai:arXiv.org:0704.1114", "not an arXiv id: '07041114'"),
    ]


def test_oai_version_label_in_other_digits_is_skipped(oai: ArxivOaiSource, fixtures: Path) -> None:
    # "v²" passes str.isdigit() after the "v" but not int(): the whole response was a ValueError.
    text = (fixtures / RAW / "ListRecordsResponse.xml").read_text()
    plain = parse_text(oai, text)
    odd = parse_text(oai, text.replace('<version version="v2">', '<version version="v\u00b2">'))
    assert [p.id for p in odd.papers] == [p.id for p in plain.papers] and odd.rejected == plain.rejected


def test_oai_malformed_xml(oai: ArxivOaiSource, fixtures: Path) -> None:
    body = (fixtures / RAW / "ListRecordsResponse.xml").read_bytes()[:3000]
    with pytest.raises(SourceError, match=r"^https://oai\.example/oai\?verb=ListRecords: malformed XML"):
        oai.parse(RawBatch(body, "https://oai.example/oai?verb=ListRecords"))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("Joshua Berger, Maxim Perelstein, Michael Saelim and Philip Tanedo", 4),
        ("A. Smith (MIT, Cambridge and Harvard), B. Jones and C. Wu", 3),
        ("Alexander Andersen and\n  Sandra Anderson", 2),
        ("", 0),
    ],
)
def test_split_authors(text: str, names: int) -> None:
    assert len(split_authors(text)) == names
    assert (
        split_authors("A. Smith (MIT, Cambridge and Harvard), B. Jones")[0]
        == "A. Smith (MIT, Cambridge and Harvard)"
    )


def test_repair_mojibake_leaves_good_text_alone() -> None:
    assert repair_mojibake("Mika V. MÃ¤ntylÃ¤") == "Mika V. Mäntylä"
    assert repair_mojibake("$Ï‰$Test") == "$ω$Test"
    for good in ("Günter Burigana", "Ångström and ω", "plain ascii", "Ã alone"):
        assert repair_mojibake(good) == good
