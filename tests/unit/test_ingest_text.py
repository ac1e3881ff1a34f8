"""Source text as ingest normalises it: line wraps folded, bidirectional overrides removed (#12)."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from papertrend.ingest.base import clean_text, clean_texts
from papertrend.ingest.sources.jsonl import JsonlSource

OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def test_clean_text_folds_wraps_and_drops_overrides() -> None:
    assert clean_text("A title\n  wrapped") == "A title wrapped"
    assert clean_text("evil\u202etxt.exe\u202c end") == "eviltxt.exe end"
    assert clean_text("\u2067isolated\u2069 text") == "isolated text"
    # Right-to-left text itself, and the marks that cannot reorder anything, stay.
    assert clean_text("שלום \u200fעולם") == "שלום \u200fעולם"
    assert clean_text(None) == ""


# Names from whitespace, NULs, overrides and letters: what could make the joined cleaning differ.
_names = st.lists(st.text(alphabet=st.sampled_from(list(" \t\n\x00\u202eAbΣ\u3000")), max_size=8), max_size=6)


@given(_names)
@example(["  Ada  ", "", "\u202e", " \n ", "Bob\u202e Lee"])
@example(["Ada\x00Lovelace", "Bob"])
def test_clean_texts_is_clean_text_of_each(names: list[str]) -> None:
    # The jsonl source cleans a paper's author names in one go (#15): the same names, as many.
    assert clean_texts(names) == [clean_text(n) for n in names]


def test_a_source_record_with_an_override_is_stored_without_it(tmp_path: Path) -> None:
    record = {
        "id": "2606.00001",
        "title": "Agents \u202eelpoep\u202c that simulate",
        "abstract": "An abstract with \u202ean override\u202c.",
        "authors": ["Eve \u202dAdversary"],
        "categories": "cs.AI",
        "update_date": "2026-06-01",
    }
    path = tmp_path / "papers.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    source = JsonlSource(path=path)
    papers = [p for raw in source.fetch(None) for p in source.parse(raw).papers]
    [paper] = papers
    for text in (paper.title, paper.abstract, *paper.authors):
        assert not any(ch in text for ch in OVERRIDES), text
    assert paper.title == "Agents elpoep that simulate"
