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


def test_the_index_names_phrases_by_their_content_words_alone() -> None:
    """Only content words are listed (stopwords are in nearly every text); a phrase with a stopword
    is still named word for word, in order."""
    tok = Tokenizer()
    texts = ["models for video", "video for models", "models video", "models of video"]
    stems = [tok(t) for t in texts]
    sets = [frozenset(s) for s in stems]
    index = topics.StemIndex()
    [content] = topics.content_words(["models for video"], tok)
    index.want(content)
    for key, held in enumerate(sets):
        index.add(key, held)
    assert "for" not in index.postings and content <= index.postings.keys()
    rows = index.rows(list(range(len(texts))))
    named = topics.naming("models for video", content, stems, sets, tok, rows)
    assert named.tolist() == [True, False, False, False]


def test_author_keys_fold_case_accents_and_spaces_alike() -> None:
    """Plain ASCII names take a short path (a digest run keys ~23,000 names): it must key a name as
    the Unicode path does."""
    import unicodedata

    from papertrend.library.service import author_key

    def slow(name: str) -> str:
        text = unicodedata.normalize("NFKD", " ".join(name.split())).casefold()
        return "".join(ch for ch in text if not unicodedata.combining(ch))

    names = ["  Ada   LOVELACE ", "Grace\tHopper", "O'Neil, J.-P.", "Zoë Ünal", "ﬁona Straße", "K\u00e9vin"]
    for name in names:
        assert author_key(name) == slow(name)
    assert author_key("  Ada   LOVELACE ") == "ada lovelace" == author_key("Ada Lovelace")
    assert author_key("Zoë Ünal") == author_key("Zoe Unal") == "zoe unal"
