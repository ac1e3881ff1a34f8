""" "Did you mean": a correction for rare or unknown query words, from the corpus's own words (#14).

"tranformer" found 6 of 10 on topic on the 80k store and offered nothing better. A word of the query
that few papers hold gets the nearest corpus word (fewest edits, then most papers) within a small edit
distance (optimal string alignment, so a swap of two letters is one edit; rapidfuzz), if that word is
far more common; the rest of the query is kept as typed. The vocabulary
is every word of the papers' titles and abstracts with the number of papers holding it, built once
per process and again when papers change (checked at most every few seconds), on a background
thread past a few thousand papers, as the in-memory BM25 index is (search/bm25.py).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading
from papertrend.papers import repository
from papertrend.search.bm25 import CHECK_EVERY_S, Signature, signature
from papertrend.search.query import STOPWORDS

log = logging.getLogger(__name__)

_WORD = re.compile(r"[^\W\d_]+")
# Words shorter than this are acronyms or stopwords more often than typos ("LLM", "RAG", "moe").
MIN_LENGTH = 4
# A word held by fewer papers than this is "rare"; a correction must be held by this many times more.
RARE_DF = 3
MORE_COMMON = 20
# Candidates are scanned per first letter: a typo in the first letter is rare, and it cuts the scan
# 20-fold (80k papers: about 110k words).
MAX_EDITS_SHORT, MAX_EDITS_LONG, LONG = 1, 2, 8
# Below this many papers the vocabulary is counted in the request (a few ms per thousand papers);
# above, on a background thread, so no search waits seconds after an ingest changed the papers.
BUILD_IN_REQUEST_BELOW = 2_000


@dataclass(frozen=True)
class Vocabulary:
    """Each corpus word (casefolded) with the number of papers holding it, grouped by first letter
    and length (a word within k edits is within k letters of the same length)."""

    signature: Signature
    df: dict[str, int]
    by_initial: dict[tuple[str, int], list[str]]


def vocabulary_of(texts: list[str] | Counter[str], *, sig: Signature) -> Vocabulary:
    """A vocabulary from document texts (each counted once per word) or a ready word → df counter."""
    df: Counter[str] = texts if isinstance(texts, Counter) else Counter()
    if not isinstance(texts, Counter):
        for text in texts:
            df.update(set(_WORD.findall(text.casefold())))
    by_initial: dict[tuple[str, int], list[str]] = {}
    for word in df:
        if len(word) >= MIN_LENGTH - 1:
            by_initial.setdefault((word[0], len(word)), []).append(word)
    return Vocabulary(signature=sig, df=dict(df), by_initial=by_initial)


def build(*, conn: Connection) -> Vocabulary:
    """Read every paper's title and abstract and count its words."""
    sig = signature(conn)
    df: Counter[str] = Counter()
    for row in repository.iter_texts(conn=conn):
        df.update(set(_WORD.findall(f"{row.title or ''} {row.abstract or ''}".casefold())))
    return vocabulary_of(df, sig=sig)


def correction(word: str, vocab: Vocabulary) -> str | None:
    """The corpus's most common word within a few edits of a rare `word`, or None."""
    key = word.casefold()
    if len(key) < MIN_LENGTH or not key.isalpha() or key in STOPWORDS:
        return None
    seen = vocab.df.get(key, 0)
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
        choices = vocab.by_initial.get((key[0], n))
        if choices:
            found = process.extract(key, choices, scorer=OSA.distance, score_cutoff=edits, limit=None)
            best.extend((-dist, vocab.df[w], w) for w, dist, _ in found if w != key and vocab.df[w] >= need)
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
    fixed = _WORD.sub(fix, query[:4096], count=16)
    return fixed if changed else None


class VocabularyHolder:
    """The process's vocabulary over one database; rebuilt in the background when stale."""

    def __init__(
        self, *, engine: Engine, threshold: int = BUILD_IN_REQUEST_BELOW, check_every: float = CHECK_EVERY_S
    ) -> None:
        self.engine = engine
        self.threshold = threshold
        self.check_every = check_every
        self.vocabulary: Vocabulary | None = None
        self._checked = -math.inf
        self._building = threading.Lock()

    def ready(self, *, conn: Connection) -> Vocabulary | None:
        """The vocabulary, or None while a large corpus's first build runs."""
        now = time.monotonic()
        if now - self._checked >= self.check_every:
            self._checked = now
            sig = signature(conn)
            if self.vocabulary is None or self.vocabulary.signature != sig:
                if sig.count < self.threshold:
                    # Small corpora are counted in the request: a few milliseconds per thousand papers.
                    self.vocabulary = build(conn=conn)
                elif self._building.acquire(blocking=False):
                    threading.Thread(target=self._build, name="vocabulary-build", daemon=True).start()
        return self.vocabulary

    def warm(self) -> None:
        """Build the vocabulary now, in this thread, unless another thread is building it."""
        # A web process builds it at start (#15): built by the first search instead, its ~3 s of CPU
        # at 80k landed on the pages served beside it.
        if self._building.acquire(blocking=False):
            self._checked = time.monotonic()
            self._build()

    def _build(self) -> None:
        try:
            t0 = time.perf_counter()
            with reading(self.engine) as conn:
                self.vocabulary = build(conn=conn)
            log.info(
                "search.vocabulary_built",
                extra={"words": len(self.vocabulary.df), "seconds": round(time.perf_counter() - t0, 1)},
            )
        except Exception:
            log.exception("search.vocabulary_failed: no 'did you mean' until the next build")
        finally:
            self._building.release()

    def suggest(self, *, conn: Connection, query: str) -> str | None:
        """A corrected query, or None."""
        vocab = self.ready(conn=conn)
        return suggestion(query, vocab) if vocab is not None else None
