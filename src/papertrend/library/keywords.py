"""Keyword features of papers for the per-reader model (issue #13): TF-IDF as arxiv-sanity-lite
builds it (1–2-grams, sublinear tf, max_df 0.1) but with a larger vocabulary (100k terms seen in 2+
papers, where arxiv-sanity keeps 20k seen in 5+), fitted on the store's titles and abstracts. Derived
data, like the ANN index: fitted once over the store and refitted when it grows or the recipe changes.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np


def text(title: str, abstract: str | None) -> str:
    """The text a paper is ranked by: its title and abstract."""
    return f"{title} {abstract or ''}"


# The vocabulary: terms in at least MIN_DF of the fitted papers, the MAX_FEATURES most frequent.
# Rare terms (a group's method, dataset or benchmark names) are what tell one author's next paper
# from their field's. bench/recommend.py's readers (minilm), 400 tuning / 400 held-out, "ours"
# Recall@20 paired against ours with arxiv-sanity's 20k terms seen in 5+ papers (0.218 / 0.191):
# 100k / min_df 2 +0.020 ± 0.006 / +0.008 ± 0.005; no cap (281k terms) +0.022 / +0.010 at 138
# nonzeros a row against 117; min_df 1 (1.2M terms) +0.014 / +0.007; 100k / min_df 5 +0.013 / +0.002
# (docs/library.md). `bench/recommend.py --vocabulary 20000:5` ranks with the old one.
MAX_FEATURES = 100_000
MIN_DF = 2
# What `save` writes beside the terms: a kept file of another recipe is refitted, not reused.
RECIPE = f"tfidf-1-2-sublinear-maxdf0.1-mindf{MIN_DF}-max{MAX_FEATURES}"


def _vectorizer(texts: int, max_features: int = MAX_FEATURES, min_df: int = MIN_DF) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        strip_accents="unicode",
        lowercase=True,
        analyzer="word",
        stop_words="english",
        token_pattern=r"(?u)\b[a-zA-Z_][a-zA-Z0-9_]+\b",
        ngram_range=(1, 2),
        max_features=max_features,
        norm="l2",
        use_idf=True,
        smooth_idf=True,
        sublinear_tf=True,
        max_df=0.1,
        min_df=min(min_df, max(1, texts // 100)),
        # float32 rows: a reader's product with the 2,000 background rows took 0.195 ms in float64
        # and 0.149 ms in float32 (100k terms, 113 nonzeros a row); scores differ by ~3e-9.
        dtype=np.float32,
    )


def save(vectorizer: Any, path: Path, *, papers: int) -> None:
    """Write a fitted vectorizer (its terms and IDF, no pickle), its RECIPE and the store size it was
    fitted at."""
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    # One UTF-8 text, a term a line (a term is words joined by spaces): numpy's fixed-width strings
    # would give each of the 100k terms the longest one's width (4 bytes a character).
    blob = np.frombuffer("\n".join(terms).encode(), dtype=np.uint8)
    recipe = np.asarray([RECIPE])
    np.savez(tmp, terms=blob, idf=vectorizer.idf_, papers=np.asarray([papers]), recipe=recipe)
    os.replace(tmp, path)  # readers never see half a file


def load(path: Path) -> tuple[Any, int] | None:
    """A vectorizer written by `save` and its store size, or None when there is no readable file or
    it was fitted under another RECIPE (then it is fitted again)."""
    try:
        with np.load(path, allow_pickle=False) as held:
            if str(held["recipe"][0]) != RECIPE:
                return None
            terms = held["terms"].tobytes().decode().split("\n")
            idf, papers = held["idf"], int(held["papers"][0])
    except (OSError, ValueError, KeyError, UnicodeDecodeError):
        return None
    if len(terms) != len(idf):
        return None
    return Kept({t: i for i, t in enumerate(terms)}, idf), papers


class Kept:
    """A vectorizer read back by `load`: its terms and IDF, made a TfidfVectorizer on its first
    transform. Importing scikit-learn took a digest run 1–3 s of CPU on the busy machine (8% of the
    bench's run, cProfile), and a run whose keyword rows are all kept (RowStore) transforms nothing."""

    def __init__(self, vocabulary: dict[str, int], idf: Any) -> None:
        self.vocabulary_, self.idf_ = vocabulary, idf
        self._made: Any = None

    def transform(self, texts: Sequence[str]) -> Any:
        """TF-IDF rows, as the saved vectorizer's `transform` gives them."""
        if self._made is None:
            made = _vectorizer(len(self.vocabulary_))
            made.vocabulary_ = self.vocabulary_
            made.idf_ = self.idf_
            self._made = made
        return self._made.transform(texts)


def fit(texts: Sequence[str], *, max_features: int = MAX_FEATURES, min_df: int = MIN_DF) -> Any:
    """A fitted TfidfVectorizer over these texts (title + abstract per paper), or None when no word
    survives the pruning (a handful of texts)."""
    vectorizer = _vectorizer(len(texts), max_features, min_df)
    try:
        vectorizer.fit(texts)
    except ValueError:  # too few texts: every word is in more than max_df of them, or none is a word
        return None
    return vectorizer


def rows(vectorizer: Any, texts: Sequence[str]) -> Any:
    """The TF-IDF rows (scipy CSR) of texts under a fitted vectorizer."""
    return vectorizer.transform(texts)


class PaperRows:
    """Rows of papers kept by pk in one matrix (stacking many one-row matrices per reader took 43 ms
    a subscriber, #13), each computed by `make` the first time it is asked for: the page's library
    keyword and metadata rows, the digest's metadata rows."""

    def __init__(self) -> None:
        self.index: dict[int, int] = {}
        self.matrix: Any = None
        # The page's requests share a window's rows from several threads: one adds at a time, and
        # the matrix grows before the index names its new rows, so `get` never sees a row too soon.
        self._adding = threading.Lock()

    def ensure(self, texts: Mapping[int, str], make: Callable[[list[str]], Any]) -> None:
        """Rows for these papers (pk → text) that have none yet, made by `make` (texts → CSR rows)."""
        import scipy.sparse as sp

        if all(pk in self.index for pk in texts):
            return
        with self._adding:
            missing = [pk for pk in texts if pk not in self.index]
            if not missing:
                return
            block = make([texts[pk] for pk in missing])
            start = 0 if self.matrix is None else self.matrix.shape[0]
            self.matrix = block if self.matrix is None else sp.vstack([self.matrix, block], format="csr")
            self.index.update({pk: start + i for i, pk in enumerate(missing)})

    def get(self, paper_pks: Sequence[int]) -> Any:
        """The rows of these papers (those without a row left out), in this order, or None."""
        mine = [self.index[pk] for pk in paper_pks if pk in self.index]
        return self.matrix[mine] if mine else None


# At most this many kept rows (~1 kB each: ~117 float32 values and their int32 columns; 10,343
# float64 rows of 91 values took 11.8 MB) besides those a run used: 30,000 cover the libraries,
# windows and background of a day's runs.
KEEP_ROWS = 30_000


def version(vectorizer: Any) -> str:
    """A digest of a fitted vectorizer's vocabulary and IDF: rows computed under another differ."""
    h = hashlib.blake2b(digest_size=12)
    for term in sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get):
        h.update(term.encode())
        h.update(b"\0")
    h.update(np.ascontiguousarray(vectorizer.idf_, dtype=np.float64).tobytes())
    return h.hexdigest()


def text_digest(text: str) -> int:
    """A 63-bit digest of a paper's text: a kept row is reused only for the same text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1


class RowStore:
    """Keyword rows of papers kept between runs (a data directory's file), keyed by paper and its
    text's digest, for one vectorizer version. The digest's For you turned ~5,000 library papers and
    every window's candidates and background into rows on each run: 43% of a run's time (#13,
    bench/digest.py --profile). Read back, a row costs a lookup; a paper whose text changed, or a
    refitted vectorizer, gets its row computed again."""

    def __init__(self, path: Path | None, version: str) -> None:
        self.path, self.version = path, version
        self.index: dict[int, tuple[int, int]] = {}  # pk → (text digest, row of `matrix`)
        self.matrix: Any = None
        self.checked: set[int] = set()  # rows known to match their paper's text in this run
        self.added = 0
        if path is not None:
            self._read(path)

    def _read(self, path: Path) -> None:
        import scipy.sparse as sp

        try:
            with np.load(path, allow_pickle=False) as held:
                if str(held["version"]) != self.version:
                    return
                pks, digests = held["pks"], held["digests"]
                shape = (int(held["shape"][0]), int(held["shape"][1]))
                matrix = sp.csr_matrix((held["data"], held["indices"], held["indptr"]), shape=shape)
        except (OSError, ValueError, KeyError, IndexError):
            return
        if matrix.shape[0] != len(pks) or len(digests) != len(pks):
            return
        self.matrix = matrix
        self.index = {int(pk): (int(d), i) for i, (pk, d) in enumerate(zip(pks, digests, strict=True))}

    def ensure(self, vectorizer: Any, texts: Mapping[int, str]) -> None:
        """Rows for these papers (pk → text): kept ones checked against the text, the rest computed."""
        import scipy.sparse as sp

        fresh = {pk: t for pk, t in texts.items() if pk not in self.checked}
        if not fresh:
            return
        digests = {pk: text_digest(t) for pk, t in fresh.items()}
        missing = [pk for pk, d in digests.items() if self.index.get(pk, (None, 0))[0] != d]
        if missing:
            block = rows(vectorizer, [fresh[pk] for pk in missing])
            start = 0 if self.matrix is None else self.matrix.shape[0]
            self.matrix = block if self.matrix is None else sp.vstack([self.matrix, block], format="csr")
            self.index.update({pk: (digests[pk], start + i) for i, pk in enumerate(missing)})
            self.added += len(missing)
        self.checked.update(fresh)

    def get(self, paper_pks: Sequence[int]) -> Any:
        """The rows of papers `ensure` saw, in this order."""
        return self.matrix[[self.index[pk][1] for pk in paper_pks]]

    def rows(self, vectorizer: Any, texts: Mapping[int, str]) -> Any:
        """The rows of these papers (pk → text), in that order."""
        self.ensure(vectorizer, texts)
        return self.get(list(texts))

    def save(self) -> None:
        """Write the rows used since it was read and, up to KEEP_ROWS in all, the others it held (a
        run that composes part of the subscribers must not evict another's rows), when some were
        computed."""
        if self.path is None or not self.added or self.matrix is None:
            return
        others = [pk for pk in self.index if pk not in self.checked]
        pks = sorted(self.checked) + others[: max(0, KEEP_ROWS - len(self.checked))]
        kept = self.get(pks)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(
            tmp,
            version=np.asarray(self.version),
            pks=np.asarray(pks, dtype=np.int64),
            digests=np.asarray([self.index[pk][0] for pk in pks], dtype=np.int64),
            data=kept.data,
            indices=kept.indices,
            indptr=kept.indptr,
            shape=np.asarray(kept.shape, dtype=np.int64),
        )
        os.replace(tmp, self.path)  # readers never see half a file
        self.added = 0
