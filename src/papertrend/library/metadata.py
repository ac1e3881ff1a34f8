"""A paper's arXiv comment and categories as features of the per-reader model (issue #13).

A group writes its comments alike ("Accepted to CVPR 2026", "Project page: https://….github.io",
"Submitted to IEEE TGRS") and lists its papers under the same categories: what the TF-IDF of title
and abstract does not see. One sparse row per paper: the comment's words and word pairs (binary,
hashed: no vocabulary to fit or keep) in the first COMMENT_WIDTH columns, its categories (binary,
hashed) in the last CATEGORY_WIDTH. recommend.library_scores turns them into two signals:

- comment: the library's mean comment row minus the background's, as the keyword model does;
- categories: the share of the library listed under each of the paper's categories, averaged.

bench/recommend.py, 400 held-out readers (minilm): ours found 0.221 of their next papers in its
top 20, 0.192 without these signals; arxiv-sanity's recipe 0.195. bench/recommend_signals.py
measures each signal alone and the weights of the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

# Hashed columns for comment words and pairs. 2**16: a reader's model is a dense vector of this width,
# made per reader; collisions among ~65k columns cost nothing measurable (bench/recommend.py).
COMMENT_WIDTH = 2**16
# And for categories: the listing file's 1,238 (arXiv's, and MSC / ACM classes some papers list) share
# no column among the 77 listed by 20 papers or more at 2**16; at 2**14 cs.CV shared one with 3 others.
CATEGORY_WIDTH = 2**16
WIDTH = COMMENT_WIDTH + CATEGORY_WIDTH
_SEP = "\x1f"  # between the comment and the categories in `text`: never in either
_CAT = "\x1e"  # between categories ("68T05, 68T07" is one)
_TOKEN = r"(?u)\b[a-zA-Z0-9]{2,}\b"


def text(comment: str | None, categories: Iterable[str] | None) -> str:
    """What a paper's metadata row is made from: its comment and categories, in one string."""
    cats = (" ".join(c.replace(_SEP, " ").replace(_CAT, " ").split()) for c in categories or [])
    return f"{' '.join((comment or '').replace(_SEP, ' ').split())}{_SEP}{_CAT.join(c for c in cats if c)}"


def _categories(joined: str) -> list[str]:
    return [c for c in joined.split(_CAT) if c]


def _vectorizers() -> tuple[Any, Any]:
    from sklearn.feature_extraction.text import HashingVectorizer

    # Hashing: stateless, so rows computed by the page, the digest and the bench always agree, and
    # there is no fitted vocabulary to keep. ~10 µs a paper (bench: 20,000 comments).
    comments = HashingVectorizer(
        n_features=COMMENT_WIDTH, token_pattern=_TOKEN, ngram_range=(1, 2), binary=True,
        norm="l2", alternate_sign=False, lowercase=True, dtype=np.float32,
    )  # fmt: skip
    categories = HashingVectorizer(
        n_features=CATEGORY_WIDTH, analyzer=_categories, binary=True, norm=None,
        alternate_sign=False, dtype=np.float32,
    )  # fmt: skip
    return comments, categories


_MADE: tuple[Any, Any] | None = None


def rows(texts: Sequence[str]) -> Any:
    """The metadata rows (scipy CSR, WIDTH columns, float32) of papers' `text`s."""
    import scipy.sparse as sp

    global _MADE
    if _MADE is None:
        _MADE = _vectorizers()
    comments, categories = _MADE
    parts = [t.partition(_SEP) for t in texts]
    if not parts:
        return sp.csr_matrix((0, WIDTH), dtype=np.float32)
    return sp.hstack(
        [comments.transform([c for c, _, _ in parts]), categories.transform([k for _, _, k in parts])],
        format="csr",
    )


@dataclass(frozen=True, slots=True)
class Block:
    """The metadata rows of a window's candidates or background, split once into their comment and
    category parts (a reader's products over the two parts: 0.06 ms, against 0.7 ms over the whole
    rows with a two-column weight matrix, bench: 3,400 candidates + 2,000 background papers), with
    how many categories each paper lists and the comment part's mean."""

    comments: Any  # scipy CSR, COMMENT_WIDTH columns
    categories: Any  # scipy CSR, CATEGORY_WIDTH columns
    counts: npt.NDArray[np.float64]  # categories per row
    comment_mean: npt.NDArray[np.float32]  # the rows' mean comment part (COMMENT_WIDTH)

    @classmethod
    def of(cls, matrix: Any) -> Block:
        """A block of these rows (`rows`, or `keywords.PaperRows.get` of them)."""
        m = matrix.tocsr()
        comments, categories = m[:, :COMMENT_WIDTH].tocsr(), m[:, COMMENT_WIDTH:].tocsr()
        counts = np.diff(categories.indptr).astype(np.float64)  # binary rows: a column is a category
        mean = (
            np.asarray(comments.mean(axis=0), dtype=np.float32).ravel()
            if m.shape[0]
            else np.zeros(COMMENT_WIDTH, np.float32)
        )
        return cls(comments, categories, counts, mean)
