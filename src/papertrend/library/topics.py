"""Which texts name a topic or an excluded word, in any word form (#13): pure functions over stems.

Split from library/recommend.py (#11: no module over ~500 lines); the digest's word filter
(digest/compose.py) and the For-you topic scores (recommend.topic_scores) share them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from papertrend.search.bm25 import Tokenizer
from papertrend.search.query import STOPWORDS

# Topics of more content words than this match when all of them appear, in any order.
PHRASE_WORDS = 3

_SYMBOL = re.compile(r"[^\w\s-]")


class WordForms:
    """Excluded words matched by stem: "benchmark" excludes benchmarks, benchmarking (#13)."""

    def __init__(self, phrases: Sequence[str], *, tokenizer: Tokenizer | None = None) -> None:
        self.tokenizer = tokenizer or Tokenizer()
        # Words with symbols ("C++", ".NET") lose them to the tokenizer: those match literally, as
        # words, the way the digest's filter matched every keyword before (#13).
        symbolic = [p.strip().lower() for p in phrases if _SYMBOL.search(p)]
        self.literal = (
            re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, symbolic)) + r")(?!\w)") if symbolic else None
        )
        words = [p for p in phrases if not _SYMBOL.search(p)]
        self.phrases = [tuple(s) for s in (self.tokenizer(p) for p in words) if s]

    def __bool__(self) -> bool:
        return bool(self.phrases) or self.literal is not None

    def matches(self, text: str) -> bool:
        """Whether any phrase occurs in the text, word for word, in any of its word forms."""
        if self.literal is not None and self.literal.search(text.lower()):
            return True
        return self.matches_stems(self.tokenizer(text)) if self.phrases else False

    def matches_stems(self, stems: list[str]) -> bool:
        """`matches` over a text already tokenised (literal phrases aside)."""
        present = set(stems)
        for phrase in self.phrases:
            if not present.issuperset(phrase):
                continue
            if len(phrase) == 1:
                return True
            if _in_order(stems, list(phrase)):
                return True
        return False


def _in_order(stems: list[str], phrase: list[str]) -> bool:
    """Whether the phrase occurs in the stems, word for word: found by list.index at each place the
    first word is (a slice compared at every place was 6% of `recommend`, cProfile)."""
    first, n, at = phrase[0], len(phrase), -1
    while True:
        try:
            at = stems.index(first, at + 1)
        except ValueError:
            return False
        if stems[at : at + n] == phrase:
            return True


def surface_patterns(topic: str, tokenizer: Tokenizer) -> list[re.Pattern[str]]:
    """For each content word of the topic, a pattern of the word's start that its forms share: the
    common part of the word and its stem, or all but its last 3 letters when that is longer
    ("generaliza" for "generalization", "generat" for "generation", "model" for "models"). The
    stemmer makes "generalization", "generation", "general" and "generative" one stem ("gener"),
    so a topic "generalization" was named by every paper about image generation. Words in
    "-ization" keep all but 5 ("generaliz": generalize, generalizing)."""
    words = [w for w in tokenizer.words(topic) if w not in STOPWORDS]
    out = []
    for word, stem in zip(words, tokenizer.stems(words), strict=True):
        word = word.lower()
        common = next(
            (i for i, (a, b) in enumerate(zip(word, stem, strict=False)) if a != b), min(len(word), len(stem))
        )
        cut = 5 if word.endswith(("ization", "isation")) else 3
        start = word[: max(common, len(word) - cut)]
        if start:
            out.append(re.compile(r"(?<![^\W_])" + re.escape(start)))
    return out


def surface_named(
    named: npt.NDArray[np.bool_], patterns: Sequence[re.Pattern[str]], texts: Sequence[str]
) -> npt.NDArray[np.bool_]:
    """`named` (by stems) kept only where the text holds every pattern (`surface_patterns`): run on
    the few texts that name the topic by stems, not on every candidate."""
    out = named.copy()
    for row in np.nonzero(named)[0].tolist():
        text = texts[row].lower()
        out[row] = all(p.search(text) for p in patterns)
    return out


def content_words(topics: Sequence[str], tokenizer: Tokenizer) -> list[frozenset[str]]:
    """Each topic's stems, stopwords left out."""
    return [
        frozenset(s for w, s in zip(words, tokenizer.stems(words), strict=True) if w not in STOPWORDS)
        for words in (tokenizer.words(t) for t in topics)
    ]


@dataclass
class StemIndex:
    """Which texts hold a stem (stem → keys, as papers' pks): a digest run's windows share most of
    their papers, and testing each paper's stems for each topic was 1.5 million set tests in a
    1,000-subscriber run (bench/digest.py, cProfile: 40% of `recommend`). Only stems asked for are
    listed (`want`, or a first `holding`): the content words of a run's topics, not the ~70,000
    stems its papers hold (listing every stem took longer than the tests it spared)."""

    sets: dict[int, frozenset[str]] = field(default_factory=dict)  # key → its text's stems
    postings: dict[str, set[int]] = field(default_factory=dict)

    def add(self, key: int, stems: frozenset[str]) -> None:
        """Index one text's stems under its key (a key is added once)."""
        self.sets[key] = stems
        for stem in stems & self.postings.keys():
            self.postings[stem].add(key)

    def want(self, stems: Iterable[str]) -> None:
        """List these stems from now on, as texts are added (before adding them is cheapest)."""
        for stem in stems:
            self.holding(stem)

    def holding(self, stem: str) -> set[int]:
        """The keys of the texts holding this stem."""
        found = self.postings.get(stem)
        if found is None:
            found = self.postings[stem] = {key for key, held in self.sets.items() if stem in held}
        return found

    def rows(self, keys: Sequence[int]) -> StemRows:
        """The index over these texts (all indexed), each at its position in `keys`."""
        return StemRows(self, {key: row for row, key in enumerate(keys)})


@dataclass(frozen=True)
class StemRows:
    """A StemIndex seen through one list of texts (a window's candidates or background)."""

    index: StemIndex
    row_of: dict[int, int]

    def holding(self, need: frozenset[str]) -> list[int]:
        """The rows whose text holds every one of these stems, in order."""
        found = sorted((self.index.holding(stem) for stem in need), key=len)
        if not found:
            return list(range(len(self.row_of)))
        keys = found[0].intersection(*found[1:])
        row_of = self.row_of
        return sorted(row_of[k] for k in keys if k in row_of)


def naming(
    topic: str,
    content: frozenset[str],
    stems: Sequence[list[str]],
    stem_sets: Sequence[frozenset[str]] | None,
    tokenizer: Tokenizer,
    index: StemRows | None = None,
) -> npt.NDArray[np.bool_]:
    """Which texts (by their stems) name the topic: its words in order in any word form, or for a
    topic of more than PHRASE_WORDS content words, every one of them anywhere. With `index` (the
    texts' stems indexed) only the texts holding every word are looked at."""
    if index is not None:
        return _naming_indexed(topic, content, stems, tokenizer, index)
    sets = stem_sets if stem_sets is not None else [frozenset(s) for s in stems]
    if len(content) > PHRASE_WORDS:
        return np.asarray([content.issubset(s) for s in sets], dtype=bool)
    forms = WordForms([topic], tokenizer=tokenizer)  # once per topic, not once per paper
    # Only a text holding every word of the phrase can hold it in order: a set test first spares
    # the rest the ordered scan (#13: the scan was 6% of a digest run).
    needs = [frozenset(p) for p in forms.phrases]
    return np.asarray(
        [
            any(need <= held for need in needs) and forms.matches_stems(s)
            for s, held in zip(stems, sets, strict=True)
        ],
        dtype=bool,
    )


def _naming_indexed(
    topic: str, content: frozenset[str], stems: Sequence[list[str]], tokenizer: Tokenizer, index: StemRows
) -> npt.NDArray[np.bool_]:
    """`naming` by the index: the same answer, looking only at texts that hold every word."""
    out = np.zeros(len(stems), dtype=bool)
    if len(content) > PHRASE_WORDS:
        out[index.holding(content)] = True
        return out
    forms = WordForms([topic], tokenizer=tokenizer)
    # By the phrase's content words, when it has some: every text holds "for" or "of", and the
    # ordered scan below checks the whole phrase anyway.
    rows = sorted(
        {
            row
            for phrase in forms.phrases
            for row in index.holding(frozenset(phrase) & content or frozenset(phrase))
        }
    )
    for row in rows:
        out[row] = forms.matches_stems(stems[row])
    return out
