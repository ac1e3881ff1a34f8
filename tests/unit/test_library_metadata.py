"""A paper's arXiv comment and categories as rows (issue #13, library/metadata.py)."""

from __future__ import annotations

import numpy as np

from papertrend.library import metadata


def comment_part(rows) -> np.ndarray:  # type: ignore[no-untyped-def]
    return rows.toarray()[:, : metadata.COMMENT_WIDTH]


def category_part(rows) -> np.ndarray:  # type: ignore[no-untyped-def]
    return rows.toarray()[:, metadata.COMMENT_WIDTH :]


def test_comment_and_categories_land_in_their_own_columns() -> None:
    rows = metadata.rows(
        [
            metadata.text("Accepted to CVPR 2026", ["cs.CV", "cs.AI"]),
            metadata.text("accepted to  cvpr 2026", ["cs.AI", "cs.CV"]),  # case, spaces, order
            metadata.text(None, ["cs.CL"]),
            metadata.text("", []),
        ]
    )
    assert rows.shape == (4, metadata.WIDTH)
    c, k = comment_part(rows), category_part(rows)
    np.testing.assert_allclose(c[0], c[1])
    np.testing.assert_allclose(k[0], k[1])
    assert abs(np.linalg.norm(c[0]) - 1) < 1e-6  # l2-normalised words and pairs
    assert k[0].sum() == 2 and set(np.unique(k[0])) == {0.0, 1.0}  # binary, one column a category
    assert not c[2].any() and k[2].sum() == 1
    assert not rows[3].nnz  # nothing to say: an empty row, not an error


def test_a_separator_in_the_comment_cannot_forge_categories() -> None:
    forged = metadata.rows([metadata.text("see\x1fcs.CV", [])])
    assert not category_part(forged).any()


def test_word_pairs_count_beside_words() -> None:
    """ "Accepted to CVPR" and "Submitted to CVPR" share words; the pair says which."""
    rows = metadata.rows([metadata.text(t, []) for t in ("accepted cvpr", "submitted cvpr", "accepted cvpr")])
    c = comment_part(rows)
    assert c[0] @ c[2] > c[0] @ c[1] > 0


def test_block_counts_categories_and_keeps_the_mean() -> None:
    rows = metadata.rows(
        [
            metadata.text("ICLR 2026", ["cs.CV", "cs.LG", "68T05, 68T07"]),
            metadata.text("", ["cs.CV", "cs.CV"]),
        ]
    )
    block = metadata.Block.of(rows)
    assert block.counts.tolist() == [3.0, 1.0]  # a class with a comma and a space is one category
    np.testing.assert_allclose(block.comment_mean, comment_part(rows).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(block.categories.toarray(), category_part(rows))
    empty = metadata.Block.of(metadata.rows([]))
    assert empty.comments.shape == (0, metadata.COMMENT_WIDTH) and not empty.comment_mean.any()
