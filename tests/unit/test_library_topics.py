"""Which texts name a topic (library/topics.py, #13): the stem index answers exactly what a scan of
every text's stems answers, for phrases, long topics, word forms and words no text holds."""

from __future__ import annotations

import numpy as np

from papertrend.library import topics
from papertrend.search.bm25 import Tokenizer

TEXTS = [
    "Video generation with diffusion models",
    "Generating videos: a diffusion model for video generators",
    "Generation of video is hard",  # the words, not in order
    "Graph neural networks for molecules and proteins",
    "Neural networks on graphs of molecules",
    "Molecules, graphs, neural networks and more graph neural networks",
    "Speech recognition for low-resource languages",
    "A paper about nothing in particular",
    "",
]
TOPICS = [
    "video generation",  # a phrase: in order, any word form
    "graph neural networks for molecules",  # more than PHRASE_WORDS content words: all, any order
    "speech",
    "quantum chromodynamics",  # no text holds it
    "the of and",  # stopwords only
    "diffusion models for video generation at scale",
]


def test_the_index_names_the_same_texts_as_the_scan() -> None:
    tok = Tokenizer()
    stems = [tok(t) for t in TEXTS]
    sets = [frozenset(s) for s in stems]
    index = topics.StemIndex()
    keys = [100 + 7 * i for i in range(len(TEXTS))]  # keys (pks) are not rows
    for key, held in zip(keys, sets, strict=True):
        index.add(key, held)
    index.add(1, frozenset(tok("video generation elsewhere")))  # a text outside this list
    rows = index.rows(keys)
    found = 0
    for topic, content in zip(TOPICS, topics.content_words(TOPICS, tok), strict=True):
        scan = topics.naming(topic, content, stems, sets, tok)
        indexed = topics.naming(topic, content, stems, sets, tok, rows)
        assert indexed.dtype == np.bool_
        assert indexed.tolist() == scan.tolist(), topic
        found += int(scan.sum())
    assert found >= 5  # the topics name some texts: the comparison is not of empty answers


def test_holding_is_every_stem_at_its_row() -> None:
    index = topics.StemIndex()
    for key, stems in ((5, {"a", "b"}), (3, {"b"}), (9, {"a", "b", "c"})):
        index.add(key, stems)
    rows = index.rows([9, 3, 5])
    assert rows.holding(frozenset({"a", "b"})) == [0, 2]
    assert rows.holding(frozenset({"b"})) == [0, 1, 2]
    assert rows.holding(frozenset({"d"})) == []


def test_a_phrase_matches_word_for_word_anywhere() -> None:
    forms = topics.WordForms(["video generation"])
    tok = forms.tokenizer
    assert forms.matches_stems(tok("generation video then video generators"))
    assert forms.matches_stems(tok("video generation"))
    assert not forms.matches_stems(tok("generation of video, video and generation"))
    assert not forms.matches_stems(tok("video"))  # the text ends after the first word
    assert not forms.matches_stems([])
