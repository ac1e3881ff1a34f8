""" "Did you mean": a correction for rare or unknown query words, from the corpus's own words (#14).

"tranformer" found 6 of 10 on topic on the 80k store and offered nothing better. A word of the query
that few papers hold gets the nearest corpus word (fewest edits, then most papers) within a small edit
distance (optimal string alignment, so a swap of two letters is one edit; rapidfuzz), if that word is
far more common; the rest of the query is kept as typed. The vocabulary (every word of the papers'
titles and abstracts with the number of papers holding it) is a file beside the keyword index, kept
by the host's keyword writer and memory-mapped here (search/vocabulary.py, #15): a process no longer
reads every paper at start.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy.engine import Connection, Engine

from papertrend.search.query import STOPWORDS
from papertrend.search.vocabulary import CANDIDATE_DF, WORD, Vocabulary, count, encode_counts, lower

if TYPE_CHECKING:
    from papertrend.search.tantivy_index import KeywordIndex

log = logging.getLogger(__name__)

# Words shorter than this are acronyms or stopwords more often than typos ("LLM", "RAG", "moe").
MIN_LENGTH = 4
# A word held by fewer papers than this is "rare"; a correction must be held by this many times more.
# The vocabulary file keeps as text only the words that can be offered (search/vocabulary.py).
RARE_DF = CANDIDATE_DF
MORE_COMMON = 20
# Candidates are scanned per first letter: a typo in the first letter is rare, and it cuts the scan
# 20-fold (80k papers: 119k words, 33.7k of them held by RARE_DF papers or more).
MAX_EDITS_SHORT, MAX_EDITS_LONG, LONG = 1, 2, 8


def vocabulary_of(texts: list[str]) -> Vocabulary:
    """The vocabulary of these document texts (each counted once per word), as the file holds it."""
    return Vocabulary(encode_counts(count((t, "") for t in texts), papers=len(texts)))


def correction(word: str, vocab: Vocabulary) -> str | None:
    """The corpus's most common word within a few edits of a rare `word`, or None."""
    key = lower(word)  # as the index lower-cases its words (search/vocabulary.py)
    if len(key) < MIN_LENGTH or not key.isalpha() or key in STOPWORDS:
        return None
    seen = vocab.count(key)
    if seen >= RARE_DF:
        return None
    edits = MAX_EDITS_LONG if len(key) >= LONG else MAX_EDITS_SHORT
    lengths = range(len(key) - edits, len(key) + edits + 1)
    # An unknown word takes any word a few papers hold; a rare one only a far more common one.
    need = RARE_DF if seen == 0 else MORE_COMMON * seen
    best: list[tuple[int, int, str]] = []
    # Each (letter, length) list is scanned where it lies: joining them first copied ~20k words per
    # typo, a third of "did you mean"'s time (#14).
    for n in lengths:
        choices = vocab.group(key[0], n)
        if choices:
            found = [
                (w, dist)
                for w, dist, _ in process.extract(
                    key, choices, scorer=OSA.distance, score_cutoff=edits, limit=None
                )
                if w != key
            ]
            counts = vocab.counts([w for w, _ in found])
            best.extend((-dist, df, w) for (w, dist), df in zip(found, counts, strict=True) if df >= need)
    return max(best)[2] if best else None


def suggestion(query: str, vocab: Vocabulary) -> str | None:
    """The query with its rare words corrected, or None when there is nothing to correct."""
    changed = False

    def fix(match: re.Match[str]) -> str:
        nonlocal changed
        word = match.group(0)
        better = correction(word, vocab)
        if better is None:
            return word
        changed = True
        if word.isupper() and len(word) > 1:
            return better.upper()
        return better.capitalize() if word[0].isupper() else better

    # Bounded like every query (search/query.py MAX_QUERY_CHARS): only its first words are looked at.
    fixed = WORD.sub(fix, query[:4096], count=16)
    return fixed if changed else None


class VocabularyHolder:
    """This process's view of the host's vocabulary file, reopened whenever the writer replaces it."""

    def __init__(self, *, engine: Engine, index: KeywordIndex) -> None:
        self.engine = engine
        self.index = index
        self.vocabulary: Vocabulary | None = None

    def ready(self, *, conn: Connection) -> Vocabulary | None:
        """The vocabulary, or None until the host's keyword writer has written it."""
        # A process that syncs the index in its searches (tests, commands) writes the file there; a
        # web process's sync thread does (search/tantivy_index.py) and this is a no-op.
        self.index.fresh(conn=conn)
        # A stat per call: a replaced file is mapped anew, an unchanged one is reused.
        self.vocabulary = self.index.vocabulary.open()
        return self.vocabulary

    def warm(self) -> None:
        """Map the vocabulary file now; write it first where no sync thread will (tests, commands)."""
        self.vocabulary = self.index.vocabulary.open()
        if self.vocabulary is None and not self.index.background:
            self.index.sync(engine=self.engine)
            self.vocabulary = self.index.vocabulary.open()
        if self.vocabulary is not None:
            log.info("search.vocabulary_opened", extra={"words": len(self.vocabulary)})

    def suggest(self, *, conn: Connection, query: str) -> str | None:
        """A corrected query, or None."""
        vocab = self.ready(conn=conn)
        return suggestion(query, vocab) if vocab is not None else None
