"""Canonical arXiv ids (issue #2)."""

from __future__ import annotations

import pytest

from papertrend.errors import InvalidPaperId
from papertrend.papers.ids import ArxivId, parse_arxiv_id


@pytest.mark.parametrize(
    ("text", "key", "version"),
    [
        ("2401.01234", "2401.01234", None),
        ("2401.01234v3", "2401.01234", 3),
        ("0704.0001", "0704.0001", None),
        ("1501.00001v12", "1501.00001", 12),
        ("arXiv:2401.01234v2", "2401.01234", 2),
        ("arxiv:2401.01234", "2401.01234", None),
        ("  2401.01234  ", "2401.01234", None),
        ("https://arxiv.org/abs/2401.01234v2", "2401.01234", 2),
        ("http://arxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://arxiv.org/pdf/2401.01234v1", "2401.01234", 1),
        ("https://arxiv.org/pdf/2401.01234v1.pdf", "2401.01234", 1),
        ("https://export.arxiv.org/abs/2401.01234?context=cs", "2401.01234", None),
        ("https://www.arxiv.org/abs/2401.01234/", "2401.01234", None),
        ("oai:arXiv.org:2401.01234", "2401.01234", None),
        ("hep-th/9901001", "hep-th/9901001", None),
        ("hep-th/9901001v2", "hep-th/9901001", 2),
        ("math.GT/0309136", "math/0309136", None),
        ("arXiv:cond-mat/0207270v1", "cond-mat/0207270", 1),
        ("http://arxiv.org/abs/astro-ph/0601001v1", "astro-ph/0601001", 1),
        ("10.48550/arXiv.2401.01234", "2401.01234", None),
        ("https://doi.org/10.48550/arXiv.2401.01234", "2401.01234", None),
        ("https://huggingface.co/papers/2401.01234", "2401.01234", None),
        ("huggingface.co/papers/2401.01234v2", "2401.01234", 2),
        ("https://www.alphaxiv.org/abs/2401.01234", "2401.01234", None),
        ("https://www.alphaxiv.org/overview/2401.01234v1", "2401.01234", 1),
    ],
)
def test_spellings_map_to_one_key(text: str, key: str, version: int | None) -> None:
    assert parse_arxiv_id(text) == ArxivId(key, version)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "abc",
        "2401.123",
        "2401.1234567",
        "2413.01234",
        "2400.01234",
        "hep-th/990100",
        "10.1000/xyz",
        "https://example.org/abs/2401.01234",
        "https://huggingface.co/models/2401.01234",
        "10.48550/zenodo.2401.01234",
        "2401.01234v",
        "2401.01234vx",
        "../../etc/passwd",
    ],
)
def test_anything_else_is_rejected_with_a_clear_message(text: str) -> None:
    with pytest.raises(InvalidPaperId, match="not an arXiv id"):
        parse_arxiv_id(text)


def test_str_round_trips() -> None:
    assert str(parse_arxiv_id("arXiv:2401.01234v3")) == "2401.01234v3"
    assert str(parse_arxiv_id("hep-th/9901001")) == "hep-th/9901001"
