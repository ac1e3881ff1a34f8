"""Ranking for "For you" (issue #13): calibrated floor (no padding), reasons, never a skipped paper or
one twice, followed authors, categories, excluded word forms, and the per-reader model."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np
import pytest

from papertrend.library import keywords, metadata
from papertrend.library import recommend as rec
from papertrend.library.topics import WordForms
from papertrend.search.bm25 import Tokenizer
from tests.unit.library_support import BACKGROUND, RNG, A, B, D, candidates, library, near, unit


def test_few_positives_pick_what_is_like_them_and_say_so() -> None:
    cands = candidates(np.vstack([near(A, 5), unit(RNG.standard_normal((40, D)))]))
    picks = rec.recommend(candidates=cands, profile=library(near(A, 3)), background=BACKGROUND, limit=8)
    assert {p.paper_id for p in picks} == {f"2401.{i:05d}" for i in range(5)}
    assert all(p.kind == "library" and p.reason.startswith("like Saved ") for p in picks)
    assert all(p.score >= rec.FLOOR for p in picks)


def test_nothing_relevant_leaves_slots_empty() -> None:
    """No padding (#13): random papers never clear the calibrated floor."""
    cands = candidates(unit(RNG.standard_normal((100, D))))
    picks = rec.recommend(candidates=cands, profile=library(near(A, 3)), background=BACKGROUND, limit=8)
    assert len(picks) <= 3  # by chance about 0.5% of random papers clear a 99.5% floor


def test_empty_profile_recommends_nothing() -> None:
    cands = candidates(near(A, 10))
    profile = rec.Profile(positives=np.zeros((0, D), np.float32), positive_titles=[])
    assert rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8) == []


def test_skipped_and_duplicate_papers_never_appear() -> None:
    vecs = near(A, 6)
    ids = ["2401.00001", "2401.00001", "2401.00002", "2401.00003", "2401.00004", "2401.00005"]
    cands = candidates(vecs, ids=ids)
    profile = library(near(A, 3), skip=frozenset({"2401.00002", "2401.00003"}))
    picks = [
        p.paper_id for p in rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8)
    ]
    assert sorted(picks) == ["2401.00001", "2401.00004", "2401.00005"]


def test_topics_authors_and_reasons() -> None:
    """A topic pick names the topic (any word forms) and is close to it; a followed author's paper is
    picked whatever it is about."""
    vecs = np.vstack([near(B, 4), unit(RNG.standard_normal((30, D)))])
    texts = ["Scalable video generators", "Video generation with diffusion", "On video generation",
             "Image editing, no topic words", *["a paper"] * 30]  # fmt: skip
    authors = [["Someone Else"]] * 34
    authors[10] = ["Ada  LOVELACE", "X"]
    profile = rec.Profile(
        positives=np.zeros((0, D), np.float32),
        positive_titles=[],
        topics=["video generation"],
        topic_vectors=B[None, :],
        authors={"ada lovelace": "Ada Lovelace"},
    )
    cands = candidates(vecs, texts=texts, authors=authors)
    picks = rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8)
    reasons = {p.paper_id: p.reason for p in picks}
    assert reasons == {
        "2401.00000": "matches video generation",
        "2401.00001": "matches video generation",
        "2401.00002": "matches video generation",
        "2401.00010": "by Ada Lovelace",
    }


def test_a_topic_is_not_named_by_a_word_of_the_same_stem() -> None:
    """The stemmer makes "generalization" and "generation" one stem ("gener"): a paper on image
    generation does not name the topic "generalization"; "generalize" and "generalizing" do."""
    vecs = np.tile(B, (4, 1)).astype(np.float32)  # all as close as can be (and no draw from RNG)
    texts = ["Fast image generation", "How networks generalize", "Generalizing across tasks",
             "Generative models and general methods"]  # fmt: skip
    profile = rec.Profile(
        positives=np.zeros((0, D), np.float32),
        positive_titles=[],
        topics=["generalization"],
        topic_vectors=B[None, :],
    )
    picks = rec.recommend(
        candidates=candidates(vecs, texts=texts), profile=profile, background=BACKGROUND, limit=8
    )
    assert {p.paper_id for p in picks} == {"2401.00001", "2401.00002"}


def at_cosine(direction: np.ndarray, cosine: float) -> np.ndarray:
    """A unit vector at exactly this cosine from `direction`."""
    other = RNG.standard_normal(D)
    other -= (other @ direction) * direction
    return unit(cosine * direction + np.sqrt(1 - cosine**2) * unit(other))


@pytest.mark.parametrize("common", [False, True])
def test_a_topic_much_of_the_store_names_needs_closer_papers(common: bool) -> None:
    """Naming a topic that 20% of the store names ("generalization") says little: such a topic's
    picks must be closer to it than COMMON_TOPIC_SIMILAR of the store, a rarer topic's than
    TOPIC_SIMILAR. Without the background's stems every topic counts as specific."""
    close, closer = at_cosine(B, 0.3), at_cosine(B, 0.9)
    pct = rec.percentile(np.asarray([close @ B, closer @ B]), BACKGROUND.vectors @ B)
    assert rec.TOPIC_SIMILAR <= pct[0] < rec.COMMON_TOPIC_SIMILAR <= pct[1]
    tok = Tokenizer()
    share = 0.2 if common else 0.02
    named = int(share * len(BACKGROUND.vectors))
    stems = [tok("video generation at scale")] * named + [tok("a paper")] * (len(BACKGROUND.vectors) - named)
    background = rec.Background(vectors=BACKGROUND.vectors, stems=stems)
    cands = candidates(
        np.vstack([close, closer, unit(RNG.standard_normal((20, D)))]),
        texts=["Video generation, close", "Video generation, closer", *["a paper"] * 20],
    )
    profile = rec.Profile(
        positives=np.zeros((0, D), np.float32), positive_titles=[], topics=["video generation"],
        topic_vectors=B[None, :],
    )  # fmt: skip
    picks = rec.recommend(candidates=cands, profile=profile, background=background, limit=8)
    assert [p.paper_id for p in picks] == (["2401.00001"] if common else ["2401.00001", "2401.00000"])
    assert background.named == {"video generation": pytest.approx(share, abs=1e-3)}
    plain = rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8)
    assert [p.paper_id for p in plain] == ["2401.00001", "2401.00000"]


def test_categories_and_excluded_word_forms_filter() -> None:
    texts = [
        "SemComp-Bench: Benchmarking semantic compression",
        "Diffusion for video",
        "Benchmarks galore",
        "Diffusion again",
        "Diffusion in math",
    ]
    cats = [["cs.CV"], ["cs.CV"], ["cs.CV"], ["cs.CV"], ["math.GT"]]
    profile = library(near(A, 3), exclude=["benchmark"], categories=frozenset({"cs.CV"}))
    cands = candidates(near(A, 5), texts=texts, categories=cats)
    picks = rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8)
    assert sorted(p.paper_id for p in picks) == ["2401.00001", "2401.00003"]


@pytest.mark.parametrize(
    ("phrase", "text", "hit"),
    [
        ("benchmark", "SemComp-Bench: Benchmarking LLMs", True),
        ("benchmark", "two new benchmarks", True),
        ("benchmark", "a bench press", False),
        ("video generation", "Scalable Video Generators", True),
        ("video generation", "generating videos", False),
        ("C++", "written in C", False),
        ("C++", "fast C++ kernels", True),
    ],
)
def test_word_forms(phrase: str, text: str, hit: bool) -> None:
    assert WordForms([phrase]).matches(text) is hit


def test_not_interested_pushes_similar_papers_down() -> None:
    cands = candidates(np.vstack([near(A, 1, 0.05), near(B, 1, 0.05)]))
    mixed = unit(A + B)[None, :]
    plain = rec.library_scores(
        candidates=cands, profile=library(mixed), background=BACKGROUND, method="nearest"
    )[0]
    pushed = rec.library_scores(
        candidates=cands,
        profile=library(mixed, negatives=B[None, :]),
        background=BACKGROUND,
        method="nearest",
    )[0]
    assert pushed[0] == pytest.approx(plain[0]) and pushed[1] < plain[1] - 0.05


def test_enough_positives_train_the_fused_model_with_keywords() -> None:
    texts = [f"diffusion video synthesis frames {i}" for i in range(5)] + [
        f"graph theory lemma {i}" for i in range(40)
    ]
    bg_texts = [f"unrelated topic number {i} proof" for i in range(100)]
    bg_texts += [f"graph theory lemma {i}" for i in range(100)]
    vec = keywords.fit(texts + bg_texts)
    cands = candidates(np.vstack([near(A, 5), unit(RNG.standard_normal((40, D)))]), texts=texts)
    cands = rec.Candidates(
        cands.ids, cands.vectors, cands.texts, cands.authors, cands.categories, keywords.rows(vec, texts)
    )
    pos_texts = [f"video diffusion synthesis {i}" for i in range(rec.MIN_TRAIN)]
    profile = library(near(A, rec.MIN_TRAIN), positive_keywords=keywords.rows(vec, pos_texts))
    bg = rec.Background(vectors=BACKGROUND.vectors[:200], keywords=keywords.rows(vec, bg_texts))
    picks = [p.paper_id for p in rec.recommend(candidates=cands, profile=profile, background=bg, limit=8)]
    assert picks[:5] and set(picks[:5]) == {f"2401.{i:05d}" for i in range(5)}
    assert len(picks) <= 6  # a random paper clears a 99.5% floor against 200 now and then


def test_not_interested_still_counts_in_the_fused_model() -> None:
    """The keyword model has no negatives: "not interested" reaches the fused model through the
    vector model (VECTOR_WEIGHT > 0), so a paper like the unwanted one drops below its twin."""
    texts = ["video diffusion synthesis"] * 2 + [f"graph theory lemma {i}" for i in range(20)]
    bg_texts = [f"unrelated topic number {i} proof" for i in range(200)]
    vec = keywords.fit(texts + bg_texts)
    vecs = np.vstack([near(A, 1, 0.05), near(unit(A + 2 * B), 1, 0.05), unit(RNG.standard_normal((20, D)))])
    cands = rec.Candidates(
        [f"2401.{i:05d}" for i in range(22)], vecs, texts, [["X"]] * 22, [["cs.CV"]] * 22,
        keywords.rows(vec, texts),
    )  # fmt: skip
    bg = rec.Background(vectors=BACKGROUND.vectors[:200], keywords=keywords.rows(vec, bg_texts))
    pos = dict(positive_keywords=keywords.rows(vec, ["video diffusion synthesis"] * rec.MIN_TRAIN))
    liked = near(unit(A + B), rec.MIN_TRAIN, 0.05)
    plain = rec.library_scores(candidates=cands, profile=library(liked, **pos), background=bg)[0]
    pushed = rec.library_scores(
        candidates=cands, profile=library(liked, negatives=near(B, 3, 0.05), **pos), background=bg
    )[0]
    assert pushed[0] - pushed[1] > plain[0] - plain[1] + 0.1


def test_five_saved_papers_train_the_model() -> None:
    """From MIN_TRAIN (5) saved papers the trained model ranks, not the nearest saved paper: on the
    bench's readers with 5-7 papers it found 0.285 of their next papers against 0.167."""
    profile = library(near(A, rec.MIN_TRAIN))
    cands = candidates(np.vstack([near(A, 3), unit(RNG.standard_normal((20, D)))]))
    auto = rec.library_scores(candidates=cands, profile=profile, background=BACKGROUND)
    fused = rec.library_scores(candidates=cands, profile=profile, background=BACKGROUND, method="ours")
    assert rec.MIN_TRAIN == 5
    np.testing.assert_allclose(auto[0], fused[0])


def test_ten_thousand_paper_library_is_capped_and_quick() -> None:
    cands = candidates(np.vstack([near(A, 5), unit(RNG.standard_normal((2000, D)))]))
    profile = library(near(A, 10_000, noise=0.3))
    t0 = time.perf_counter()
    picks = rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=8)
    assert time.perf_counter() - t0 < 10
    assert {f"2401.{i:05d}" for i in range(5)} <= {p.paper_id for p in picks}


def test_percentile_is_the_share_of_background_strictly_below() -> None:
    """Searched in sorted order for speed, each score still gets its own share: ties count as not
    below, scores in any order, float32 or float64."""
    background = np.asarray([0.1, 0.2, 0.2, 0.3, 0.5, 0.5, 0.9], dtype=np.float32)
    scores = np.asarray([0.5, 0.0, 0.2, 1.0, 0.2, 0.35, 0.9, 0.5], dtype=np.float32)
    expected = [sum(b < s for b in background) / len(background) for s in scores]
    assert rec.percentile(scores, background).tolist() == expected
    many = RNG.standard_normal(3_500)
    base = RNG.standard_normal(2_000)
    plain = np.searchsorted(np.sort(base), many, side="left") / len(base)
    assert np.array_equal(rec.percentile(many, base), plain)
    assert rec.percentile(many[:0], base).shape == (0,)
    assert rec.percentile(many[:3], base[:0]).tolist() == [0.0, 0.0, 0.0]


def test_percentile_at_least_a_floor_is_exact_where_it_can_reach_it() -> None:
    """With `at_least` (the floor), a score whose share reaches it gets the full search's share bit
    for bit, ties and a share of exactly the floor included; every other score stays below it."""
    base = np.round(RNG.standard_normal(2_000), 2)  # ties
    many = np.concatenate([RNG.standard_normal(3_500), base[-40:], np.sort(base)[[1989, 1990, 1991]]])
    full = rec.percentile(many, base)
    for floor in (0.995, 0.5, 1.0, 1.5):
        cut = rec.percentile(many, base, at_least=floor)
        reach = full >= floor
        assert np.array_equal(cut[reach], full[reach])
        assert (cut[~reach] < floor).all()
    assert (full == rec.FLOOR).any()  # the boundary itself was tested
    assert np.array_equal(rec.percentile(many, base, at_least=0.0), full)
    assert rec.percentile(many[:3], base[:0], at_least=0.995).tolist() == [0.0, 0.0, 0.0]


def test_picks_of_equal_score_keep_the_candidates_order() -> None:
    """Only rows at the floor or above are sorted (#13, 200 digests/s), stably: papers by a followed
    author all score 1.0 and come in the candidates' order, the limit cutting the last."""
    n = 12
    cands = candidates(
        unit(RNG.standard_normal((n, D))),
        authors=[["Ada Lovelace"] if i % 3 == 0 else ["Someone Else"] for i in range(n)],
    )
    profile = rec.Profile(
        positives=np.zeros((0, D), np.float32), positive_titles=[], authors={"ada lovelace": "Ada Lovelace"}
    )
    picks = rec.recommend(candidates=cands, profile=profile, background=BACKGROUND, limit=3)
    assert [p.paper_id for p in picks] == ["2401.00000", "2401.00003", "2401.00006"]
    assert all(p.score == 1.0 and p.reason == "by Ada Lovelace" for p in picks)


def test_comment_and_categories_lift_a_paper_like_the_librarys() -> None:
    """Twins in vectors and words: the one whose comment and categories are the library's ranks
    first under "ours" (library/metadata.py), and without metadata rows nothing changes."""
    texts = ["video diffusion synthesis"] * 2 + [f"graph theory lemma {i}" for i in range(20)]
    bg_texts = [f"unrelated topic number {i} proof" for i in range(200)]
    vec = keywords.fit(texts + bg_texts)
    twin = near(A, 1, 0.05)
    vecs = np.vstack([twin, twin, unit(RNG.standard_normal((20, D)))])
    meta_texts = [metadata.text("Project page: https://lab.github.io/x", ["cs.CV", "cs.GR"])]
    meta_texts += [metadata.text("10 pages, 4 figures", ["cs.CL"])] * 21
    bg_meta = [
        metadata.text(f"{i % 30} pages", ["cs.CL"] if i % 2 else ["cs.CV", "cs.LG"]) for i in range(200)
    ]
    cands = rec.Candidates(
        [f"2401.{i:05d}" for i in range(22)], vecs, texts, [["X"]] * 22, [["cs.CV"]] * 22,
        keywords.rows(vec, texts), meta=metadata.Block.of(metadata.rows(meta_texts)),
    )  # fmt: skip
    bg = rec.Background(
        vectors=BACKGROUND.vectors[:200],
        keywords=keywords.rows(vec, bg_texts),
        meta=metadata.Block.of(metadata.rows(bg_meta)),
    )
    saved = [metadata.text(f"Project page: https://lab.github.io/p{i}", ["cs.CV", "cs.GR"]) for i in range(5)]
    profile = library(
        near(A, rec.MIN_TRAIN, 0.05),
        positive_keywords=keywords.rows(vec, ["video diffusion synthesis"] * rec.MIN_TRAIN),
        positive_meta=metadata.rows(saved),
    )
    with_meta = rec.library_scores(candidates=cands, profile=profile, background=bg)[0]
    assert with_meta[0] > with_meta[1] + 0.5
    alone = rec.library_scores(candidates=cands, profile=profile, background=bg, method="metadata")[0]
    assert alone[0] == alone.max() and alone[1] < alone[0]
    plain = rec.library_scores(
        candidates=replace(cands, meta=None), profile=replace(profile, positive_meta=None), background=bg
    )[0]
    assert plain[0] == pytest.approx(plain[1])  # twins: only the metadata told them apart
