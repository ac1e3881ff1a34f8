""" "Did you mean"'s vocabulary file (search/vocabulary.py, #15): counts from the index, damage."""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
import tantivy
from hypothesis import given, settings
from hypothesis import strategies as st

from papertrend.search.tantivy_index import (
    TOKENIZER,
    WORDS,
    WORDS_TOKENIZER,
    analyzer,
    schema,
    words_analyzer,
)
from papertrend.search.vocabulary import (
    CANDIDATE_DF,
    Unreadable,
    Vocabulary,
    VocabularyFile,
    count,
    encode_counts,
    of_index,
    words_of,
)

PAPERS = [
    ("Transformers for vision", "A transformer with attention over patches."),
    ("Diffusion models", "Diffusion models generate images; the transformer helps."),
    ("Straße und Fluß", "Ünïcode wörds, lower-cased: STRASSE."),
    ("An LLM at 3 GHz", "Short words and 42 digits are not counted, nor GPT4 (a run with digits)."),
]


def _file(papers: list[tuple[str, str]]) -> Vocabulary:
    return Vocabulary(encode_counts(count(papers), papers=len(papers)))


def test_it_counts_papers_per_word_and_keeps_only_offerable_words_as_text() -> None:
    vocab = _file(PAPERS * 2 + PAPERS[:1])
    assert vocab.count("transformer") == 5 and vocab.count("transformers") == 3
    assert vocab.count("straße") == 2 and vocab.count("strasse") == 2  # lower-cased, one per paper
    assert vocab.count("ünïcode") == 2 and vocab.count("lower") == 2
    assert vocab.count("an") == 0 and vocab.count("llm") == 2 and vocab.count("nowhere") == 0
    assert vocab.count("gpt4") == vocab.count("gpt") == 0
    assert vocab.group("t", 11) == ["transformer"]
    # Held by fewer than CANDIDATE_DF papers: counted (how rare a typed word is) but never offered.
    assert vocab.count("images") == 2 and "images" not in vocab.candidates()
    assert all(vocab.count(w) >= CANDIDATE_DF for w in vocab.candidates())


def _index(papers: list[tuple[str, str]]) -> tuple[tantivy.Index, tantivy.IndexWriter]:
    index = tantivy.Index(schema())  # in memory
    index.register_tokenizer(TOKENIZER, analyzer())
    index.register_tokenizer(WORDS_TOKENIZER, words_analyzer())
    writer = index.writer(heap_size=15_000_000, num_threads=1)
    for pk, (title, abstract) in enumerate(papers):
        writer.add_document(tantivy.Document(pk=pk, hash=0, text=[title], **{WORDS: [title, abstract]}))
    writer.commit()
    index.reload()
    return index, writer


# Letters of several scripts (İ lower-cases to "i" and a combining dot, which ends a word), digits,
# separators of every kind, letters that lower-case to two (ß stays; "ǅ" is one title-case letter).
text = st.text(alphabet=st.sampled_from("aZq_9 -éÉİßǅΣσςЖж.,;'\"\u00a0\u2003\n\t/()"), max_size=60)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(text, text), max_size=8), st.sets(st.integers(0, 7), max_size=4))
def test_the_index_counts_the_words_python_counts_of_its_live_papers(
    papers: list[tuple[str, str]], gone: set[int]
) -> None:
    index, writer = _index(papers)
    for pk in gone:  # deleted papers: their words no longer count, merged or not
        writer.delete_documents_by_term("pk", pk)
    writer.commit()
    index.reload()
    live = [p for pk, p in enumerate(papers) if pk not in gone]
    built, expected = Vocabulary(of_index(index.searcher(), WORDS)), _file(live)
    every = sorted(count(papers))
    assert built.counts(every) == expected.counts(every) and len(built) == len(expected)
    assert sorted(built.candidates()) == sorted(expected.candidates()) and built.papers == len(live)


def test_words_are_split_as_the_index_splits_them() -> None:
    found = words_of("GPT4o and RAG-based İyi", "naïve co-training")
    assert found == {"and", "rag", "based", "naïve", "training"}


def test_damaged_bytes_are_refused_not_misread() -> None:
    data = encode_counts(count(PAPERS), papers=4)
    for bad in (b"", data[:7], b"garbage" * 10, data[:20], data.replace(b'"format": 2', b'"format": 9')):
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
