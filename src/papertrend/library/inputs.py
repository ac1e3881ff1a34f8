"""What "For you" ranking takes (issue #13): the candidates, the background sample, the reader's
profile, as numpy arrays and what the caller keeps with them. Split from recommend.py (#11: no
module over ~500 lines), which names them too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from papertrend.library import metadata, topics
from papertrend.search.bm25 import Tokenizer

Matrix = npt.NDArray[np.float32]
# Shrinkage of the background covariance in the per-reader linear model, in units of its mean
# variance (bench/recommend.py, tuning readers: 0.3 → Recall@20 0.116, 1 → 0.120, 3 → 0.130,
# 10 → 0.125, 100 → 0.127 for the vector model alone).
SHRINK = 3.0


@dataclass(frozen=True, slots=True)
class Candidates:
    """The papers that may be recommended, one row each."""

    ids: Sequence[str]
    vectors: Matrix  # (n, d) unit rows
    texts: Sequence[str]  # title and abstract
    authors: Sequence[Sequence[str]]
    categories: Sequence[Sequence[str]]
    keywords: Any = None  # (n, v) sparse TF-IDF rows (library.keywords), or None
    # Each text's stems, when the caller keeps them: the digest ranks one window for thousands of
    # subscribers, and tokenising 1,562 abstracts for each was most of a subscriber's cost (#13).
    stems: Sequence[list[str]] | None = None
    stem_sets: Sequence[frozenset[str]] | None = None
    # Each paper's author keys (service.author_key), for followed-author matching; the same reason.
    author_keys: Sequence[Sequence[str]] | None = None
    # Rows by author key, for the same reason.
    author_rows: Mapping[str, Sequence[int]] | None = None
    # Which rows name each topic, filled as topics are ranked: thousands of subscribers share a few
    # hundred topics, and the word match is the same for all of them.
    named: dict[str, npt.NDArray[np.bool_]] | None = None
    # Each topic's scores against one background (its vectors, the topic's vector, the row), filled
    # as topics are ranked: a topic's row depends on nothing else, and subscribers repeat topics.
    topic_rows: dict[str, tuple[Matrix, Matrix, npt.NDArray[np.float64]]] | None = None
    # The texts' stems indexed (topics.StemIndex), when the caller keeps them: which rows name a topic.
    stem_rows: topics.StemRows | None = None
    # Their arXiv comments and categories as rows (library.metadata), when the caller has them.
    meta: metadata.Block | None = None

    def with_stems(self, tokenizer: Tokenizer) -> Candidates:
        """The same candidates with their texts' stems and authors' keys computed once."""
        from papertrend.library.service import author_key

        stems = [tokenizer(text) for text in self.texts]
        keys = [[author_key(a) for a in names] for names in self.authors]
        rows: dict[str, list[int]] = {}
        for row, names in enumerate(keys):
            for key in dict.fromkeys(names):
                rows.setdefault(key, []).append(row)
        return Candidates(
            self.ids, self.vectors, self.texts, self.authors, self.categories, self.keywords,
            stems, [frozenset(s) for s in stems], keys, rows, {}, {}, None, self.meta,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Background:
    """Random stored papers: the negatives of the per-reader model and the yardstick of every score."""

    vectors: Matrix
    keywords: Any = None  # their TF-IDF rows, when candidates have them
    # Their arXiv ids, when known: a reader's own papers in the sample are left out of their yardstick
    # (a saved paper is its own nearest neighbour: 4 of them in a 300-paper sample put the floor out
    # of reach; tests/integration/test_library_foryou.py).
    ids: Sequence[str] = ()
    # What every reader's linear model shares (`prepared`): the vectors' mean, the inverse of their
    # shrunk covariance, and the keyword rows' mean.
    mean: Matrix | None = None
    inverse: Matrix | None = None
    keyword_mean: Matrix | None = None
    rows: Mapping[str, int] | None = None  # id → row
    # Each background paper's stems (title and abstract), when the caller keeps them: how much of
    # the store names a topic (COMMON_TOPIC). Without them every topic counts as specific.
    stems: Sequence[list[str]] | None = None
    # The share of the background naming each topic, filled as topics are ranked (shared by readers).
    named: dict[str, float] = field(default_factory=dict)
    # `stems` as sets, made once (`prepared`): building 2,000 of them for each topic was 22 of a
    # digest run's 79 profiled seconds (#13).
    stem_sets: Sequence[frozenset[str]] | None = None
    stem_rows: topics.StemRows | None = None  # `stems` indexed, as Candidates.stem_rows
    meta: metadata.Block | None = None  # their comments and categories, as Candidates.meta

    def prepared(self) -> Background:
        """The same background with what every reader's model shares computed once (~20 ms)."""
        if self.inverse is not None:
            return self
        vecs = np.asarray(self.vectors, dtype=np.float64)
        mean = vecs.mean(axis=0) if len(vecs) else np.zeros(vecs.shape[1])
        centred = vecs - mean
        cov = centred.T @ centred / max(len(vecs), 1)
        shrink = SHRINK * (float(np.trace(cov)) / max(len(cov), 1) or 1.0)
        inverse = np.linalg.inv(cov + shrink * np.eye(len(cov)))
        kw = None if self.keywords is None or not self.keywords.shape[0] else self.keywords.mean(axis=0)
        kw = None if kw is None else np.asarray(kw).ravel()
        return Background(
            self.vectors, self.keywords, self.ids, mean.astype(np.float32), inverse.astype(np.float32),
            None if kw is None else kw.astype(np.float32), {pid: i for i, pid in enumerate(self.ids)},
            self.stems, self.named,
            self.stem_sets if self.stem_sets is not None or self.stems is None
            else [frozenset(s) for s in self.stems],
            self.stem_rows, self.meta,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Profile:
    """What a reader told us, as vectors and words."""

    positives: Matrix  # (m, d): saved and upvoted papers, most recent first
    positive_titles: Sequence[str]
    positive_keywords: Any = None  # their TF-IDF rows, when candidates have them
    positive_meta: Any = None  # their metadata rows (library.metadata), when candidates have them
    negatives: Matrix | None = None  # (k, d): "not interested"
    topics: Sequence[str] = ()
    topic_vectors: Matrix | None = None  # (t, d)
    authors: Mapping[str, str] = field(default_factory=dict)  # followed: author_key → name
    categories: frozenset[str] = frozenset()
    exclude: Sequence[str] = ()
    skip: frozenset[str] = frozenset()  # library, sent and "not interested" ids
    # The linear model's scores of the candidates and of every background paper, when computed with
    # other readers' (models.linear_scores: the digest's readers of a window in one product).
    linear: tuple[Matrix, Matrix] | None = None
