"""Matched words marked in results, HTML-safe (#14)."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from papertrend.search.marks import LEAD_CHARS, mark, marked, query_stems, split_lead


def test_words_are_marked_as_search_matches_them() -> None:
    stems = query_stems('"gaussian splatting" modelling the behaviour -survey')
    text = mark("Gaussian splats modeled the behavior of a survey", stems)
    # Stems as the keyword index has them ("modelling" → "model"), both spellings, no stopwords,
    # nothing excluded.
    assert text == (
        "<mark>Gaussian</mark> <mark>splats</mark> <mark>modeled</mark> the <mark>behavior</mark> of a survey"
    )


def test_source_text_is_escaped_and_only_marks_are_markup() -> None:
    text = mark('<script>alert("x")</script> & splatting', query_stems("splatting alert"))
    assert text == "&lt;script&gt;<mark>alert</mark>(&#34;x&#34;)&lt;/script&gt; &amp; <mark>splatting</mark>"


def test_long_abstracts_are_cut_after_a_word_and_short_ones_kept_whole() -> None:
    words = "word " * 200
    lead, rest = split_lead(words)
    assert len(lead) <= LEAD_CHARS and lead.endswith("word") and rest.startswith("word")
    assert " ".join([lead, rest]) == " ".join(words.split())
    assert split_lead("A short abstract.") == ("A short abstract.", "")
    result = marked(title="T", abstract=words, query="word")
    assert str(result.rest).startswith("<mark>word</mark>")
    # The lead and the rest are the split text, marked.
    assert str(result.lead).replace("<mark>", "").replace("</mark>", "") == lead
    assert str(result.rest).replace("<mark>", "").replace("</mark>", "") == rest
    assert marked(title="T", abstract=words, query="").rest == rest


@given(text=st.text(max_size=400), query=st.text(max_size=80))
def test_any_text_comes_out_without_markup_of_its_own(text: str, query: str) -> None:
    out = str(mark(text, query_stems(query)))
    stripped = out.replace("<mark>", "").replace("</mark>", "")
    assert "<" not in stripped and ">" not in stripped


def test_words_whose_stem_is_not_their_start_are_marked_too() -> None:
    # Snowball turns a final y into i: "study" → "studi", "studies" → "studi".
    assert mark("Two studies, one study.", query_stems("study")) == (
        "Two <mark>studies</mark>, one <mark>study</mark>."
    )
    assert mark("LLMs and GANs", query_stems("LLM GAN")) == "<mark>LLMs</mark> and <mark>GANs</mark>"
    # …and an e that Snowball adds back: "coding" → "code".
    assert mark("Coding agents code", query_stems("coding")) == "<mark>Coding</mark> agents <mark>code</mark>"


def test_accented_words_are_marked_whole_whichever_way_they_are_typed_or_stored() -> None:
    nfd = unicodedata.normalize("NFD", "naïve")
    title = f"Schrödinger bridges, a naïve café and {nfd} Bayes at the CAFÉ"
    # Typed without accents, typed with them: the same words, marked whole with their accents.
    for query in ("schrodinger naive cafe", "Schrödinger naïve café"):
        assert mark(title, query_stems(query)) == (
            f"<mark>Schrödinger</mark> bridges, a <mark>naïve</mark> <mark>café</mark> and "
            f"<mark>{nfd}</mark> Bayes at the <mark>CAFÉ</mark>"
        )
    # A word that only shares accented letters is not marked; a letter whose lower case is longer
    # ("İ") keeps offsets right.
    assert mark("İzmir naïve naïvety", query_stems("naive")) == "İzmir <mark>naïve</mark> naïvety"
    # Marked as the index matches: its analyzer lowers "İ" to "i" + a combining dot, so keyword
    # search for "istanbul" does not find "İstanbul", and it is not marked either.
    assert mark("İstanbul Istanbul", query_stems("istanbul")) == "İstanbul <mark>Istanbul</mark>"


def test_one_and_two_letter_stems_are_marked_as_whole_words() -> None:
    assert mark("LM and LMs, not film", query_stems("lm")) == "<mark>LM</mark> and <mark>LMs</mark>, not film"


def test_words_are_marked_by_the_stemmer_keyword_search_uses() -> None:
    # Keyword search stems with Snowball English, which takes -ly off ("recently" → "recent"); marks
    # used Porter, which keeps it ("recentli"), so these papers were found for "recent", "high",
    # "quick" but the words that matched went unmarked.
    assert mark("Recently, highly and quickly.", query_stems("recent high quick")) == (
        "<mark>Recently</mark>, <mark>highly</mark> and <mark>quickly</mark>."
    )
    # A loose word is marked in the forms it is looked up by: "GNN" also finds "GNNs" (Snowball keeps
    # an s after no vowel), and "organization" stems apart from "organ" as the index has it.
    assert mark("GNNs, an organ, organizations", query_stems("GNN organization")) == (
        "<mark>GNNs</mark>, an organ, <mark>organizations</mark>"
    )


def test_a_hyphenated_word_is_marked_whole_when_search_matched_it_whole() -> None:
    # "pretraining" finds "pre-training" (the index holds hyphenated words whole too, #14): the mark
    # shows why, as one mark over the word.
    m = marked(
        title="Pre-training at scale",
        abstract="We study pre-training, pretraining and pre-trained GPT-4o-mini with self-attention.",
        query="pretraining",
    )
    assert str(m.title) == "<mark>Pre-training</mark> at scale"
    assert str(m.lead) == (
        "We study <mark>pre-training</mark>, <mark>pretraining</mark> and <mark>pre-trained</mark> "
        "GPT-4o-mini with self-attention."
    )
    # Typed with its hyphen, the word's mark covers the whole word, not its parts one by one.
    assert str(mark("Multi-modal data", query_stems("multi-modal"))) == "<mark>Multi-modal</mark> data"
