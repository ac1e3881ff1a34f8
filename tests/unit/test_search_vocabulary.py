""" "Did you mean"'s vocabulary file (search/vocabulary.py, #15): counts, merges, damage."""

from __future__ import annotations

import logging
import string
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from papertrend.search.vocabulary import (
    CANDIDATE_DF,
    MIN_LENGTH,
    WORD,
    Tally,
    Unreadable,
    Vocabulary,
    VocabularyFile,
    count,
    encode_counts,
    merged,
    words_of,
)

PAPERS = [
    ("Transformers for vision", "A transformer with attention over patches."),
    ("Diffusion models", "Diffusion models generate images; the transformer helps."),
    ("Straße und Fluß", "Ünïcode wörds, casefolded: STRASSE."),
    ("An LLM at 3 GHz", "Short words and 42 digits are not counted."),
]


def _file(papers: list[tuple[str, str]]) -> Vocabulary:
    return Vocabulary(encode_counts(count(papers), papers=len(papers)))


def test_it_counts_papers_per_word_and_keeps_only_offerable_words_as_text() -> None:
    vocab = _file(PAPERS * 2 + PAPERS[:1])
    assert vocab.count("transformer") == 5 and vocab.count("transformers") == 3
    assert vocab.count("strasse") == 2  # "Straße" and "STRASSE" casefold to one word, one per paper
    assert vocab.count("an") == 0 and vocab.count("llm") == 2 and vocab.count("nowhere") == 0
    assert vocab.group("t", 11) == ["transformer"]
    # Held by fewer than CANDIDATE_DF papers: counted (how rare a typed word is) but never offered.
    assert vocab.count("images") == 2 and "images" not in vocab.candidates()
    assert all(vocab.count(w) >= CANDIDATE_DF for w in vocab.candidates())


words = st.text(alphabet="abcdeé", min_size=3, max_size=6)
papers = st.lists(st.tuples(st.lists(words, max_size=8).map(" ".join), st.just("")), max_size=12)


@settings(max_examples=60, deadline=None)
@given(papers, papers)
def test_adding_papers_to_a_file_counts_as_counting_them_all(
    first: list[tuple[str, str]], more: list[tuple[str, str]]
) -> None:
    whole = _file(first + more)
    grown = Vocabulary(merged(_file(first), count(more), papers=len(more), stale=0))
    every = sorted(count(first + more))
    assert grown.counts(every) == whole.counts(every)
    assert sorted(grown.candidates()) == sorted(whole.candidates())
    assert (grown.papers, len(grown)) == (whole.papers, len(whole))


@settings(max_examples=60, deadline=None)
@given(st.lists(papers, max_size=5))
def test_counting_in_batches_counts_as_counting_at_once(batches: list[list[tuple[str, str]]]) -> None:
    tally = Tally()
    for batch in batches:
        tally.add(count(batch), papers=len(batch))
    whole, grown = _file([p for b in batches for p in b]), Vocabulary(tally.encode())
    every = sorted(count([p for b in batches for p in b]))
    assert grown.counts(every) == whole.counts(every) and len(grown) == len(whole)
    assert sorted(grown.candidates()) == sorted(whole.candidates()) and grown.papers == whole.papers


def test_damaged_bytes_are_refused_not_misread() -> None:
    data = encode_counts(count(PAPERS), papers=4)
    for bad in (b"", data[:7], b"garbage" * 10, data[:20], data.replace(b'"format": 1', b'"format": 9')):
        with pytest.raises(Unreadable):
            Vocabulary(bad)


def test_a_missing_or_damaged_file_is_logged_and_asks_for_a_build(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    held = VocabularyFile(tmp_path / "vocabulary.bin")
    assert held.open() is None and held.needs_build()
    held.write(encode_counts(Counter({"transformer": 3}), papers=3))
    found = held.open()
    assert found is not None and found.count("transformer") == 3 and not held.needs_build()
    assert held.open() is found  # mapped once per version of the file
    held.path.write_bytes(b"PTVOCAB\x00\xff\xff\xff\xff{")
    with caplog.at_level(logging.WARNING):
        assert held.open() is None and held.needs_build()
    assert "search.vocabulary_unreadable" in caplog.text


@given(
    st.text(alphabet=st.sampled_from("aZq_9 -é\u0130ßx\u00a0\u2003\n"), max_size=60) | st.just(""),
    st.text(alphabet=string.printable, max_size=80) | st.text(max_size=40),
)
def test_the_ascii_shortcut_counts_the_words_the_unicode_class_finds(title: str, abstract: str) -> None:
    text = f"{title} {abstract}".casefold()
    assert words_of(title, abstract) == {w for w in WORD.findall(text) if len(w) >= MIN_LENGTH}
