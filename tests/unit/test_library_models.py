"""The per-reader models in closed form (library/models.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from papertrend.library import models
from papertrend.library import recommend as rec
from tests.unit.library_support import BACKGROUND, D, candidates, unit

RNG = np.random.default_rng(29)


def test_row_mean_is_scipys_mean_bit_for_bit() -> None:
    """The keyword model's library mean (one np.add.at) equals scipy's, so a faster digest picks the
    same papers (#13); rows in any order and repeated entries included."""
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    for n in (1, 5, 50):
        rows = sp.random(n, 2_000, density=0.05, format="csr", dtype=np.float32, random_state=rng)
        expected = np.asarray(rows.mean(axis=0)).ravel()
        got = models.row_mean(rows)
        assert got.dtype == expected.dtype and np.array_equal(got, expected)
    picked = rows[[7, 3, 7, 0]]
    assert np.array_equal(models.row_mean(picked), np.asarray(picked.mean(axis=0)).ravel())


def test_many_readers_linear_scores_are_each_readers_model() -> None:
    """The digest scores a window's readers in one product (#13, 200 digests/s): column j is reader
    j's `linear_model` applied to the candidates and to every background paper, to float32's last
    bits, "not interested" papers included."""
    vectors = unit(RNG.standard_normal((300, D)))
    readers = [
        (unit(RNG.standard_normal((n, D))), unit(RNG.standard_normal((k, D))) if k else None)
        for n, k in ((5, 0), (12, 3), (50, 1))
    ]
    targets = np.stack([models.linear_target(pos, BACKGROUND, neg) for pos, neg in readers])
    cand, base = models.linear_scores(vectors=vectors, background=BACKGROUND, targets=targets)
    assert cand.shape == (300, 3) and base.shape == (len(BACKGROUND.vectors), 3)
    for j, (pos, neg) in enumerate(readers):
        w = models.linear_model(pos, BACKGROUND, neg)
        np.testing.assert_allclose(cand[:, j], vectors @ w, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(base[:, j], BACKGROUND.vectors @ w, rtol=1e-4, atol=1e-4)
    assert not np.allclose(cand[:, 0], cand[:, 1])  # the readers' columns are their own


def test_a_profiles_given_linear_scores_stand_for_its_linear_model() -> None:
    """`Profile.linear` (scores made with other readers') ranks as the model made alone would."""
    cands = candidates(unit(RNG.standard_normal((200, D))))
    pos = unit(RNG.standard_normal((8, D)))
    profile = rec.Profile(positives=pos, positive_titles=[f"P{i}" for i in range(8)])
    target = models.linear_target(pos, BACKGROUND, None)[None, :]
    given = models.linear_scores(vectors=cands.vectors, background=BACKGROUND, targets=target)
    alone = rec.library_scores(candidates=cands, profile=profile, background=BACKGROUND, method="linear")
    shared = rec.library_scores(
        candidates=cands,
        profile=replace(profile, linear=(given[0][:, 0], given[1][:, 0])),
        background=BACKGROUND,
        method="linear",
    )
    np.testing.assert_allclose(shared[0], alone[0], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(shared[1], alone[1], rtol=1e-4, atol=1e-4)
    wrong = rec.library_scores(
        candidates=cands,
        profile=replace(profile, linear=(-given[0][:, 0], -given[1][:, 0])),
        background=BACKGROUND,
        method="linear",
    )
    assert not np.allclose(wrong[0], alone[0])  # the given scores are what is used
