"""Keyword features of papers for the per-reader model (issue #13): TF-IDF as arxiv-sanity-lite
builds it (1–2-grams, 20k features, sublinear tf, max_df 0.1, min_df 5), fitted on the store's titles
and abstracts. Derived data, like the ANN index: fitted once over the store and refitted when it grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def text(title: str, abstract: str | None) -> str:
    """The text a paper is ranked by: its title and abstract."""
    return f"{title} {abstract or ''}"


def fit(texts: Sequence[str], *, max_features: int = 20_000) -> Any:
    """A fitted TfidfVectorizer over these texts (title + abstract per paper), or None when no word
    survives the pruning (a handful of texts)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(
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
        min_df=min(5, max(1, len(texts) // 100)),
        dtype=np.float64,
    )
    try:
        vectorizer.fit(texts)
    except ValueError:  # too few texts: every word is in more than max_df of them, or none is a word
        return None
    return vectorizer


def rows(vectorizer: Any, texts: Sequence[str]) -> Any:
    """The TF-IDF rows (scipy CSR) of texts under a fitted vectorizer."""
    return vectorizer.transform(texts)
