"""Keyword features of papers for the per-reader model (issue #13): TF-IDF as arxiv-sanity-lite
builds it (1–2-grams, 20k features, sublinear tf, max_df 0.1, min_df 5), fitted on the store's titles
and abstracts. Derived data, like the ANN index: fitted once over the store and refitted when it grows.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def text(title: str, abstract: str | None) -> str:
    """The text a paper is ranked by: its title and abstract."""
    return f"{title} {abstract or ''}"


def _vectorizer(texts: int, max_features: int = 20_000) -> Any:
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
        min_df=min(5, max(1, texts // 100)),
        dtype=np.float64,
    )


def save(vectorizer: Any, path: Path, *, papers: int) -> None:
    """Write a fitted vectorizer (its terms and IDF, no pickle) and the store size it was fitted at."""
    terms = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.npz")
    np.savez(tmp, terms=np.asarray(terms, dtype=str), idf=vectorizer.idf_, papers=np.asarray([papers]))
    os.replace(tmp, path)  # readers never see half a file


def load(path: Path) -> tuple[Any, int] | None:
    """A vectorizer written by `save` and its store size, or None when there is no readable file."""
    try:
        with np.load(path, allow_pickle=False) as held:
            terms, idf, papers = list(held["terms"]), held["idf"], int(held["papers"][0])
    except (OSError, ValueError, KeyError):
        return None
    vectorizer = _vectorizer(len(terms))
    vectorizer.vocabulary_ = {str(t): i for i, t in enumerate(terms)}
    vectorizer.idf_ = idf
    return vectorizer, papers


def fit(texts: Sequence[str], *, max_features: int = 20_000) -> Any:
    """A fitted TfidfVectorizer over these texts (title + abstract per paper), or None when no word
    survives the pruning (a handful of texts)."""
    vectorizer = _vectorizer(len(texts), max_features)
    try:
        vectorizer.fit(texts)
    except ValueError:  # too few texts: every word is in more than max_df of them, or none is a word
        return None
    return vectorizer


def rows(vectorizer: Any, texts: Sequence[str]) -> Any:
    """The TF-IDF rows (scipy CSR) of texts under a fitted vectorizer."""
    return vectorizer.transform(texts)
