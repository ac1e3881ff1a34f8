"""arXiv category codes among what sources call categories (#14)."""

from __future__ import annotations

import pytest

from papertrend.ingest.base import Parsed
from papertrend.ingest.sources.jsonl import record_to_paper
from papertrend.papers.categories import arxiv_categories, category_code


def test_acm_and_msc_classes_are_dropped_and_joined_values_split() -> None:
    # As the 74,728-paper listing file and the arXiv API give them.
    values = [
        "cs.CV",
        "cs.AI",
        "68Txx",
        "I.2.1",
        "94A29, 94A08",
        "I.4.2; E.4",
        "cs.CV, cs.MM",
        "na",
        "CS",
        None,
        3,
    ]
    assert arxiv_categories(values) == ["cs.CV", "cs.AI", "cs.MM"]
    # As the source spells them: only what is no category goes ("cs.CLX" is one to the grammar).
    assert arxiv_categories(
        ["cs.CLX", "hep-th math-ph", "cond-mat.mes-hall", "physics.optics", "q-bio.NC"]
    ) == [
        "cs.CLX",
        "hep-th",
        "math-ph",
        "cond-mat.mes-hall",
        "physics.optics",
        "q-bio.NC",
    ]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("cs.cl", "cs.CL"),
        ("CS.CL", "cs.CL"),
        ("Physics.Optics", "physics.optics"),
        ("quant-ph", "quant-ph"),
        ("solv-int", "solv-int"),  # a retired archive, on old papers
        ("cs", None),
        ("math", None),
        ("state-of-the-art", None),
        ("fine-tuning", None),
        ("xx.YY", None),
        ("cs." + "a" * 40, None),
    ],
)
def test_category_codes_in_arxivs_case(text: str, code: str | None) -> None:
    assert category_code(text) == code


def test_a_listing_record_keeps_only_its_arxiv_categories() -> None:
    record = {"id": "2503.12780", "title": "LangDA", "categories": ["cs.CV", "stat.ML", "68Txx", "I.2.1"]}
    paper = record_to_paper(record, source="jsonl", where="line 1", parsed=Parsed())
    assert paper is not None and paper.categories == ["cs.CV", "stat.ML"]
