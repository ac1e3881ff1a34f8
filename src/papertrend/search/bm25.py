"""BM25 over small in-memory sets of papers: the digest's window ranking and its tokenizer (issue #3).

Keyword search itself ranks from the tantivy index (search/tantivy_index.py, issue #15). What stays
here ranks a few thousand papers held in memory anyway — the digest's new papers of a window
(digest/ranking.py) — by FTS5's BM25 (k1 1.2, b 0.75, the same idf and its floor), from per-stem
numpy arrays of the column-weighted frequencies. Words are split as unicode61 splits them (letters and
digits, diacritics and case folded) and stemmed with the Porter algorithm; pages mark words with the
same tokenizer (search/marks.py).
"""

from __future__ import annotations

import math
import re
import unicodedata
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

import numpy as np
import numpy.typing as npt
import Stemmer

K1, B = 1.2, 0.75
MIN_IDF = 1e-6  # FTS5's floor for a word in more than half the papers
_WORD = re.compile(r"[^\W_]+")


def _fold(text: str) -> str:
    """Case and diacritics folded, as unicode61 with remove_diacritics 2 does."""
    text = text.casefold()
    if text.isascii():
        return text
    return "".join(ch for ch in unicodedata.normalize("NFKD", text) if not unicodedata.combining(ch))


class Tokenizer:
    """unicode61 + Porter, in Python; stems are cached per word (a corpus has few distinct words)."""

    def __init__(self) -> None:
        self._stemmer = Stemmer.Stemmer("porter")
        self._stems: dict[str, str] = {}

    def words(self, text: str) -> list[str]:
        return _WORD.findall(_fold(text))

    def stems(self, words: Sequence[str]) -> list[str]:
        cache = self._stems
        new = [w for w in set(words) if w not in cache]
        if new:
            cache.update(zip(new, self._stemmer.stemWords(new), strict=True))
        return [cache[w] for w in words]

    def __call__(self, text: str) -> list[str]:
        return self.stems(self.words(text))


@dataclass(frozen=True)
class Signature:
    """What the index was built from: the papers' count and newest change."""

    count: int
    changed: str


I32 = npt.NDArray[np.int32]
F32 = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Postings:
    """The built arrays: per stem a slice [offsets[t], offsets[t + 1]) of docs and weighted freqs."""

    signature: Signature
    weights: tuple[float, float, float]
    pks: npt.NDArray[np.int64]  # doc index → papers.pk
    doc_len: F32  # tokens in title + abstract + authors, as FTS5 counts them
    avgdl: float
    terms: dict[str, int]
    offsets: npt.NDArray[np.int64]
    docs: I32
    freqs: F32

    @property
    def nbytes(self) -> int:
        arrays = (self.pks, self.doc_len, self.offsets, self.docs, self.freqs)
        return sum(a.nbytes for a in arrays)

    def idf(self, df: int) -> float:
        n = len(self.pks)
        return max(MIN_IDF, math.log((n - df + 0.5) / (df + 0.5)))

    def scores(self, stems: Iterable[str]) -> F32:
        """BM25 of every doc for these stems (each counted as often as given, as FTS5 counts phrases)."""
        total = np.zeros(len(self.pks), dtype=np.float32)
        for stem in stems:
            t = self.terms.get(stem)
            if t is None:
                continue
            start, end = int(self.offsets[t]), int(self.offsets[t + 1])
            docs = self.docs[start:end]
            total[docs] += weight(
                self.freqs[start:end], self.doc_len[docs], avgdl=self.avgdl, idf=self.idf(end - start)
            )
        return total

    def holding(self, stems: Iterable[str]) -> I32:
        """Docs that hold any of these stems."""
        parts = [
            self.docs[int(self.offsets[t]) : int(self.offsets[t + 1])]
            for t in (self.terms.get(s) for s in stems)
            if t is not None
        ]
        return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.int32)


def weight(freqs: F32, doc_len: F32, *, avgdl: float, idf: float) -> F32:
    """BM25's weight of one term in each doc, from its (weighted) frequency there and the doc's length:
    idf × f(k1 + 1) / (f + k1(1 − b + b·len/avgdl)). The one BM25 of the project (issue #11)."""
    norm = K1 * (1 - B + B * doc_len / avgdl)
    return cast(F32, np.float32(idf) * freqs * (K1 + 1) / (freqs + norm))


def document(tokenizer: Tokenizer, fields: Iterable[tuple[str, float]]) -> tuple[dict[str, float], int]:
    """A doc's weighted frequency of each stem, and its length in tokens (as FTS5 counts it)."""
    freq: dict[str, float] = {}
    length = 0
    for text, w in fields:
        stems = tokenizer(text)
        length += len(stems)
        for stem in stems:
            freq[stem] = freq.get(stem, 0.0) + w
    return freq, length


def postings_of(
    docs: Iterable[tuple[int, dict[str, float], int]],
    *,
    signature: Signature,
    weights: tuple[float, float, float],
) -> Postings:
    """Postings from each doc's (pk, weighted frequency of each stem, length), in pk order."""
    terms: dict[str, int] = {}
    # Typed arrays, not lists: 4 bytes an entry instead of ~36 while ten million pile up.
    term_col, doc_col, freq_col = array("i"), array("i"), array("f")
    pks, lengths = array("q"), array("i")
    for doc, (pk, freq, length) in enumerate(docs):
        pks.append(pk)
        lengths.append(length)
        for stem, f in freq.items():
            t = terms.setdefault(stem, len(terms))
            term_col.append(t)
            doc_col.append(doc)
            freq_col.append(f)
    term_arr = np.frombuffer(term_col, dtype=np.int32)
    order = np.argsort(term_arr, kind="stable")  # by term, docs ascending within each
    counts = np.bincount(term_arr, minlength=len(terms))
    offsets = np.zeros(len(terms) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    doc_len = np.frombuffer(lengths, dtype=np.int32).astype(np.float32)
    return Postings(
        signature=signature,
        weights=weights,
        pks=np.frombuffer(pks, dtype=np.int64).copy(),
        doc_len=doc_len,
        avgdl=float(doc_len.mean()) if len(doc_len) else 1.0,
        terms=terms,
        offsets=offsets,
        docs=np.frombuffer(doc_col, dtype=np.int32)[order],
        freqs=np.frombuffer(freq_col, dtype=np.float32)[order],
    )


def top(
    postings: Postings,
    *,
    stems: Sequence[str],
    excluded: Sequence[str],
    limit: int,
    allowed: npt.NDArray[np.int64] | None,
) -> list[tuple[int, float]]:
    """(paper pk, score) of the `limit` best docs holding any of `stems` and none of `excluded`."""
    scores = postings.scores(stems)
    if excluded:
        scores[postings.holding(excluded)] = 0
    if allowed is not None:
        keep = np.isin(postings.pks, allowed, assume_unique=True)
        scores[~keep] = 0
    found = np.flatnonzero(scores)
    if found.size > limit:
        # Everything tied with the limit-th score stays in, so ties break by pk as FTS5's do.
        kth = np.partition(scores[found], found.size - limit)[found.size - limit]
        found = found[scores[found] >= kth]
    order = sorted(found.tolist(), key=lambda d: (-scores[d], postings.pks[d]))[:limit]
    return [(int(postings.pks[d]), float(scores[d])) for d in order]


__all__ = [
    "Postings",
    "Tokenizer",
    "document",
    "postings_of",
    "top",
    "weight",
]
