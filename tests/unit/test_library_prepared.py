"""Candidates prepared once per window (#13: the digest ranks one window for thousands of
subscribers) pick exactly what unprepared candidates pick, and the per-topic word match is kept."""

from __future__ import annotations

import numpy as np

from papertrend.library import recommend as rec
from papertrend.search.bm25 import Tokenizer
from tests.unit.library_support import BACKGROUND, B, D, candidates, near, unit

# Its own generator: drawing from library_support's would change what test_library_recommend's tests see.
RNG = np.random.default_rng(29)


def test_prepared_candidates_pick_the_same_with_the_same_reasons() -> None:
    vecs = np.vstack([near(B, 4, rng=RNG), unit(RNG.standard_normal((30, D)))])
    texts = ["Scalable video generators", "Video generation with diffusion", "On video generation",
             "Image editing, no topic words", *["a paper"] * 30]  # fmt: skip
    authors = [["Someone Else"]] * 34
    authors[10] = ["Ada  LOVELACE", "X"]
    profile = rec.Profile(
        positives=near(B, 2, rng=RNG),
        positive_titles=["Saved 0", "Saved 1"],
        topics=["video generation", "a long topic about many generated video frames"],
        topic_vectors=np.vstack([B, B]),
        authors={"ada lovelace": "Ada Lovelace"},
    )
    plain = candidates(vecs, texts=texts, authors=authors)
    prepared = plain.with_stems(Tokenizer())
    assert prepared.named == {}
    first = rec.recommend(candidates=plain, profile=profile, background=BACKGROUND, limit=8)
    again = rec.recommend(candidates=prepared, profile=profile, background=BACKGROUND, limit=8)
    assert first == again and any(p.reason == "by Ada Lovelace" for p in again)
    assert prepared.named is not None and set(prepared.named) == set(profile.topics)
    # A second subscriber with the same topic reuses the match and still gets the same picks.
    assert rec.recommend(candidates=prepared, profile=profile, background=BACKGROUND, limit=8) == again


def test_kept_topic_rows_score_as_computed_afresh() -> None:
    """A topic's row is kept with the candidates (#13): a subscriber whose topics overlap another's in
    any order gets the scores computed afresh, and another background is never served a kept row."""
    vecs = np.vstack([near(B, 3, rng=RNG), unit(RNG.standard_normal((20, D)))])
    texts = ["Video generation at scale", "Video generators", "Generation of video", *["a paper"] * 20]
    topics = ["video generation", "scaling laws", "a paper"]
    prepared = candidates(vecs, texts=texts, authors=[["X"]] * 23).with_stems(Tokenizer())
    tv = np.vstack([B, unit(RNG.standard_normal(D)), unit(RNG.standard_normal(D))])
    first = rec.Profile(
        positives=near(B, 0, rng=RNG), positive_titles=[], topics=topics[:2], topic_vectors=tv[:2]
    )
    second = rec.Profile(
        positives=near(B, 0, rng=RNG), positive_titles=[], topics=topics[::-1], topic_vectors=tv[::-1].copy()
    )
    tok = Tokenizer()
    rec.topic_scores(candidates=prepared, profile=first, background=BACKGROUND, tokenizer=tok)
    assert prepared.topic_rows is not None and set(prepared.topic_rows) == set(topics[:2])
    for profile in (second, first):
        kept = rec.topic_scores(candidates=prepared, profile=profile, background=BACKGROUND, tokenizer=tok)
        afresh = rec._topic_scores(candidates=prepared, profile=profile, background=BACKGROUND, tokenizer=tok)
        np.testing.assert_allclose(kept, afresh, rtol=0, atol=1e-12)
    other = rec.Background(vectors=unit(RNG.standard_normal((50, D))))
    kept = rec.topic_scores(candidates=prepared, profile=first, background=other, tokenizer=tok)
    afresh = rec._topic_scores(candidates=prepared, profile=first, background=other, tokenizer=tok)
    np.testing.assert_array_equal(kept, afresh)
