"""The per-reader models of "For you" (issue #13), in closed form: nothing is fitted per reader.
Each turns a reader's library into weights over the papers' vectors, keyword rows or metadata rows;
library/recommend.py scores the candidates with them, calibrates and fuses the scores, and picks.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from papertrend.library import metadata
from papertrend.library.inputs import Background, Matrix

# "Not interested" papers count this many times a background paper in the linear model; in
# nearest-neighbour mode a candidate closer to one of them than to the library loses this share of
# the difference.
NEGATIVE_WEIGHT = 5.0
NEGATIVE_PULL = 0.5


def nearest_scores(vectors: Matrix, positives: Matrix, negatives: Matrix | None) -> npt.NDArray[np.float32]:
    """Nearest-neighbour similarity to the library, pulled down near "not interested" papers."""
    scores: npt.NDArray[np.float32] = np.asarray((vectors @ positives.T).max(axis=1), dtype=np.float32)
    if negatives is not None and len(negatives):
        # Only a candidate closer to a "not interested" paper than to any saved one is pulled down:
        # one click must not silence a whole topic of the library.
        pull = (vectors @ negatives.T).max(axis=1)
        scores = np.asarray(scores - NEGATIVE_PULL * np.maximum(pull - scores, 0), dtype=np.float32)
    return scores


def linear_target(
    positives: Matrix, background: Background, negatives: Matrix | None
) -> npt.NDArray[np.float64]:
    """What the linear model whitens: the library's mean minus the negatives' (the background's,
    with "not interested" papers weighted NEGATIVE_WEIGHT× among them)."""
    base = background.prepared()
    assert base.mean is not None
    negative = base.mean.astype(np.float64)
    if negatives is not None and len(negatives):
        n_bg, n_neg = len(background.vectors), NEGATIVE_WEIGHT * len(negatives)
        negative = (n_bg * negative + NEGATIVE_WEIGHT * negatives.sum(axis=0)) / (n_bg + n_neg)
    target: npt.NDArray[np.float64] = positives.mean(axis=0) - negative
    return target


def linear_model(positives: Matrix, background: Background, negatives: Matrix | None) -> Matrix:
    """A per-reader linear model over the paper vectors: `linear_target` whitened by the
    background's shrunk covariance (linear discriminant analysis with a shared covariance, as
    exemplar-LDA trains one classifier per exemplar). Closed form: one matrix-vector product per
    reader, where the logistic regression it replaced took ~30 ms of lbfgs (#13)."""
    return _whitened(background, linear_target(positives, background, negatives))


def linear_scores(
    *, vectors: Matrix, background: Background, targets: npt.NDArray[np.float64]
) -> tuple[Matrix, Matrix]:
    """Many readers' linear models at once, as scores: (n, k) of `vectors` and (m, k) of the
    background, column j under `targets[j]` (`linear_target`). A window's 3,400 × 384 float32
    vectors are read once for all k readers: one reader's matrix-vector product is bound by reading
    them (181 µs here, 92 µs for the 2,000 background papers), a 17-column product costs 35 µs a
    reader (#13, 200 digests/s). The same models as `linear_model` up to the last bits of float32."""
    weights = _whitened(background, targets.T)
    return vectors @ weights, background.vectors @ weights


def _whitened(background: Background, targets: npt.NDArray[np.float64]) -> Matrix:
    """`linear_target`s (a vector, or one per column) whitened by the background's shrunk covariance."""
    base = background.prepared()
    assert base.inverse is not None
    weights: Matrix = np.asarray(base.inverse @ targets, dtype=np.float32)
    return weights


def keyword_weights(positives: Any, background: Background) -> Matrix:
    """The keyword model: the library's mean TF-IDF row minus the background's. arxiv-sanity's
    LinearSVC at C=0.01 with balanced classes lands close to it (at that C nearly every paper is a
    margin violator, so its weights are the classes' weighted mean difference); bench/recommend.py
    on tuning readers: Recall@20 0.157 against the LinearSVC's 0.156, for no fit at all."""
    base = background.prepared()
    assert base.keyword_mean is not None
    # In the rows' float32 (keywords.py): with a float64 vector scipy copies the rows' values up to
    # float64 for each product.
    return np.asarray(row_mean(positives) - base.keyword_mean, dtype=np.float32)


def metadata_model(positives: Any, background: Background) -> tuple[Matrix, Matrix]:
    """A reader's two metadata weight vectors: over the comment part, the library's mean minus the
    background's; over the category part, the share of the library listed under each category."""
    assert background.meta is not None
    mean = row_mean(positives)
    cut = metadata.COMMENT_WIDTH
    return mean[:cut] - background.meta.comment_mean, np.ascontiguousarray(mean[cut:])


def metadata_scores(
    block: metadata.Block, weights: tuple[Matrix, Matrix]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The comment and category scores of a block's papers under a reader's `metadata_model`: the
    comment model's margin, and the mean share of the library over the paper's categories."""
    comment, category = weights
    shares = np.asarray(block.categories @ category, dtype=np.float64)
    return np.asarray(block.comments @ comment, dtype=np.float64), shares / np.maximum(block.counts, 1.0)


def row_mean(rows: Any) -> Matrix:
    """The mean of a CSR matrix's rows, bit for bit what scipy's `mean(axis=0)` gives (its values
    scaled by 1/n, then summed row after row in their dtype) in one `np.add.at`: 19 µs against
    scipy's 83 µs for a 50-paper library, which builds three matrices on the way (#13, 200 digests/s)."""
    rows = rows.tocsr()  # keywords.rows and RowStore give CSR already: no copy
    n, width = rows.shape
    scaled = rows.data * rows.dtype.type(1.0 / max(n, 1))
    out = np.zeros(width, dtype=rows.dtype)
    np.add.at(out, rows.indices, scaled)
    return out
