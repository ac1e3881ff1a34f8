"""Import parsing (issue #13): every spelling of an arXiv id, Zotero's BibTeX and CSL JSON, pasted
lists, and hostile files (TeX macros, 10k entries, binary, 5 MB, malformed) refused or read safely."""

from __future__ import annotations

import time

import orjson
import pytest

from papertrend.errors import BadRequest
from papertrend.library import imports
from papertrend.library.refs import arxiv_id_in


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2401.01234", "2401.01234"),
        ("arXiv:2401.01234v2", "2401.01234"),
        ("10.48550/arXiv.2401.01234", "2401.01234"),
        ("https://doi.org/10.48550/ARXIV.2401.01234", "2401.01234"),
        ("http://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234"),
        ("https://export.arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
        ("arXiv preprint arXiv:1706.03762, 2017", "1706.03762"),
        ("math.GT/0309136", "math/0309136"),
    ],
)
def test_arxiv_ids_in_every_spelling(text: str, key: str) -> None:
    found = arxiv_id_in(text)
    assert found is not None and found.key == key


@pytest.mark.parametrize("text", ["10.1145/3292500.3330701", "ISBN 978-0201134476", "2413.01234", "hello"])
def test_non_arxiv_values_name_no_paper(text: str) -> None:
    assert arxiv_id_in(text) is None


ZOTERO_BIB = """
@misc{vaswani_attention_2023,
  title = {Attention {Is} {All} {You} {Need}},
  url = {http://arxiv.org/abs/1706.03762},
  doi = {10.48550/arXiv.1706.03762},
  publisher = {arXiv},
  author = {Vaswani, Ashish and Shazeer, Noam},
  year = {2023},
  note = {arXiv:1706.03762 [cs]},
}
@article{eprint_only, title={X}, eprint={2401.01234}, archivePrefix={arXiv}, primaryClass={cs.CL}}
@article{hdl, title={Handle}, eprint={2401.09999}, eprinttype={hdl}}
@book{knuth, title={The Art of Computer Programming}, publisher={Addison-Wesley}}
"""


def test_zotero_bibtex() -> None:
    kind, refs = imports.parse(ZOTERO_BIB.encode())
    assert kind == "bibtex"
    assert [r.arxiv_id.key if r.arxiv_id else None for r in refs] == ["1706.03762", "2401.01234", None, None]
    assert refs[0].title == "Attention Is All You Need"
    assert "knuth" in refs[3].where


def test_zotero_csl_json() -> None:
    items = [
        {
            "id": "a",
            "type": "article",
            "title": "Attention",
            "number": "arXiv:1706.03762",
            "publisher": "arXiv",
        },
        {"id": "b", "type": "article", "title": "By DOI", "DOI": "10.48550/arXiv.2401.01234"},
        {"id": "c", "type": "book", "title": "A book", "ISBN": "978-0201134476"},
    ]
    kind, refs = imports.parse(orjson.dumps(items))
    assert kind == "csl-json"
    assert [str(r.arxiv_id) if r.arxiv_id else None for r in refs] == ["1706.03762", "2401.01234", None]


def test_pasted_list_reports_what_is_not_an_id() -> None:
    kind, refs = imports.parse(
        b"2401.01234, arXiv:2401.05678v2\nhttps://arxiv.org/abs/hep-th/9901001 banana\n"
    )
    assert kind == "ids"
    assert [str(r.arxiv_id) if r.arxiv_id else r.title for r in refs] == [
        "2401.01234",
        "2401.05678v2",
        "hep-th/9901001",
        "banana",
    ]
    assert refs[3].where == "line 2"


def test_tex_macros_stay_inert_text() -> None:
    text = r"""
@string{evil = "\input{/etc/passwd}"}
@preamble{"\def\x{\x}\x \immediate\write18{rm -rf /}"}
@article{a, title={\csname\endcsname\input{/etc/passwd} \def\loop{\loop}\loop}, eprint={2401.01234}}
@article{b, title=evil # " and more", note={\catcode`\{=12 arXiv:2401.05678}}
"""
    kind, refs = imports.parse(text.encode())
    assert kind == "bibtex"
    assert [str(r.arxiv_id) for r in refs] == ["2401.01234", "2401.05678"]


def test_ten_thousand_entries_parse_in_seconds() -> None:
    text = "".join(
        f"@article{{k{i}, title={{Paper {i}}}, eprint={{2401.{i:05d}}}, archivePrefix={{arXiv}}}}\n"
        for i in range(10_000)
    )
    t0 = time.perf_counter()
    _, refs = imports.parse(text.encode())
    assert time.perf_counter() - t0 < 30
    assert len(refs) == 10_000 and refs[-1].arxiv_id is not None and refs[-1].arxiv_id.key == "2401.09999"


def test_more_entries_than_a_collection_holds_is_refused() -> None:
    text = "\n".join(f"2401.{i:05d}" for i in range(10_001))
    with pytest.raises(BadRequest, match="10,001 entries"):
        imports.parse(text.encode())


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"@article{a, title={caf\xe9}}", "not UTF-8"),
        (b"   \n\t", "empty"),
        (b"@article{a, title={unclosed, eprint={2401.01234}\n", "could not be read"),
        (b'[{"id": 1,', "could not be read"),
        (b"[1, 2]", "not an object"),
        (b"nothing here\n@comment{x}\n", "No entries"),
    ],
)
def test_bad_files_get_a_clear_error(data: bytes, message: str) -> None:
    with pytest.raises(BadRequest, match=message) as caught:
        imports.parse(data)
    assert "Nothing was imported" in caught.value.message


def test_five_megabytes_is_refused_before_parsing() -> None:
    data = b"2401.01234\n" * (imports.MAX_IMPORT_BYTES // 11 + 1)
    assert len(data) >= 5_000_000
    with pytest.raises(BadRequest, match="under 5 MB"):
        imports.parse(data)


def test_pathological_bibtex_is_answered_quickly() -> None:
    """Deep nesting, an entry left open for megabytes, and a file of @ signs: an answer in seconds."""
    nested = b"@article{a, title=" + b"{" * 200_000 + b"x" + b"}" * 200_000 + b", eprint={2401.01234}}"
    t0 = time.perf_counter()
    _, refs = imports.parse(nested)
    assert [str(r.arxiv_id) for r in refs] == ["2401.01234"]
    with pytest.raises(BadRequest, match="line 1"):
        imports.parse(b"@article{a, title={" + b"x" * 4_800_000)
    with pytest.raises(BadRequest, match="No entries"):
        imports.parse(b"@" * 4_900_000)
    assert time.perf_counter() - t0 < 30
