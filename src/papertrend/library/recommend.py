"""Recommendations that learn from a reader's library (issue #13): pure ranking over numpy arrays.

    candidates (vectors, texts, authors, categories)
      × profile (library vectors as positives, "not interested" as negatives, topics, followed
                 authors and categories, excluded words, papers to skip)
      × background (vectors of random stored papers)
      → picks: paper id, calibrated score, and why ("like <saved paper>", "matches <topic>", "by <author>")

Every signal is calibrated the same way: a candidate's raw score is turned into the share of
background papers that score below it under the same signal (an empirical percentile). Cosine
similarities of different models, and a linear model's margins, then mean the same thing, and one
floor says "more like this reader's interests than FLOOR of the store". A slot is filled only above
it, so an edition with nothing relevant stays empty instead of padded (#13: 1 of 8 "For you" papers
was on topic when every slot was filled).

The library signal is the nearest saved paper (cosine) while the library is small; from
MIN_TRAIN positives on, the fusion of two per-reader linear models in closed form (nothing is
fitted per reader), the keyword model weighted 3× the vector model: one over the paper vectors (the
library's mean against the background's, whitened by the background's shrunk covariance), as
Scholar Inbox trains a per-user classifier on embeddings, and one over TF-IDF keyword rows
(library/keywords.py), the mean difference that arxiv-sanity's LinearSVC approximates at its C.
bench/recommend.py measures them against the library centroid and arxiv-sanity's own recipe, on
readers simulated from real authors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from papertrend.library import topics
from papertrend.library.inputs import SHRINK, Background, Candidates, Matrix, Profile
from papertrend.library.models import (
    keyword_weights,
    linear_model,
    metadata_model,
    metadata_scores,
    nearest_scores,
)
from papertrend.library.topics import WordForms
from papertrend.search.bm25 import Tokenizer

# What ranking takes is in inputs.py (#11: no module over ~500 lines), named here too.
__all__ = ["SHRINK", "Background", "Candidates", "Matrix", "Profile"]
Kind = Literal["library", "topic", "author"]
KINDS: tuple[Kind, ...] = ("library", "library", "topic", "author")  # by `recommend`'s codes

# A pick must score above this share of random stored papers (bench/recommend.py: topic precision@8
# and Recall@20 over the floor; see the CHANGELOG for the measured numbers).
FLOOR = 0.995
# From this many positives on, the per-reader linear models replace nearest-neighbour similarity.
# bench/recommend.py, the 101 of 200 tuning readers with 5-7 saved papers (wordllama): Recall@20 0.167
# for the nearest saved paper, 0.285 for the fused model (at 8 they had the nearest paper). Libraries
# under 5 papers are not in the bench.
MIN_TRAIN = 5
# Weight of the vector model's score beside the keyword (TF-IDF) model's in "ours", both in
# background standard deviations; at 0 "ours" would be the keyword model alone (the vector model not
# computed), but the vector model carries "not interested" (the keyword model has no negatives).
# bench/recommend.py, 200 tuning readers (wordllama), Recall@20 per reader against the keyword model
# alone (0.233): weight 1/3 +0.009 ± 0.008 (paired), 1/2 +0.006 ± 0.009, 1 -0.007 ± 0.012 (weight 1
# lost to the keyword model alone on 120 held-out readers, 0.197 against 0.245). Categories as a
# third score (+0.009 ± 0.006), recency weights on the library (+0.001 ± 0.007) and the nearest
# saved paper by keywords or by vectors (-0.03, -0.005) did no better.
VECTOR_WEIGHT = 1 / 3
# Beside them, the papers' arXiv comments and categories (library.metadata), in the same standard
# deviations: the comment model (the library's mean comment row minus the background's) and the
# share of the library listed under the paper's categories. bench/recommend_signals.py (minilm), its
# weights table, Recall@20 of 400 tuning / 400 held-out readers: none 0.206 / 0.161; categories 0.75
# and comment 0.45: 0.220 / 0.181 (0.5 and 0.45: 0.229 / 0.179; 1 and 0.3: 0.217 / 0.183); chosen
# first on other tuning readers (0.197 -> 0.224). bench/recommend.py's held-out readers: ours 0.192 ->
# 0.221 Recall@20, 0.98x -> 1.13x arxiv-sanity's recipe.
COMMENT_WEIGHT = 0.45
CATEGORY_WEIGHT = 0.75
# A topic pick names the topic and is closer to it than TOPIC_SIMILAR of the store; for a topic that
# more than COMMON_TOPIC of the store names ("generalization", "LLMs"), closer than
# COMMON_TOPIC_SIMILAR. Naming a common topic says little: bench/recommend.py on the half of HF
# keyword topics kept for tuning, precision@8 0.660 with 0.95 for all, 0.722 with 0.8 / 0.99 at 10%
# (2.88 → 3.55 slots filled, 18% → 16% of editions empty); the other half 0.525 → 0.561.
TOPIC_SIMILAR = 0.8
COMMON_TOPIC = 0.1
COMMON_TOPIC_SIMILAR = 0.99
# At most this many papers of a very large library train the model (the most recent ones): a
# 10,000-paper library trains in the same time as a 2,000-paper one.
MAX_POSITIVES = 2_000


@dataclass(frozen=True, slots=True)
class Pick:
    """One recommendation: the paper, its calibrated score (0–1) and why."""

    paper_id: str
    score: float
    kind: Kind
    reason: str


def percentile(
    scores: npt.NDArray[np.floating], background: npt.NDArray[np.floating], *, at_least: float = 0.0
) -> npt.NDArray[np.float64]:
    """The share of background scores strictly below each score (0–1); a score whose share is
    below `at_least` reads 0 (what cannot reach a floor needs no exact share)."""
    values = np.asarray(scores, dtype=np.float64)
    base = np.asarray(background, dtype=np.float64)
    n = len(base)
    if not n:
        return np.zeros(len(values))
    # Shares of `at_least` or more need `need` background scores below: only scores above the
    # need-th smallest can have them. With a floor of 0.995, ~30 of a window's 3,400 scores are
    # searched in the top 11 of 2,000 (np.partition): 10 µs a reader, against 224 µs for sorting
    # the background and searching every score in sorted order (#13, 200 digests/s). Each share is
    # the same division as a full search gives.
    need = _least_below(at_least, n)
    if need > n:
        return np.zeros(len(values))
    if need == 0:
        order = np.argsort(values)  # searched in ascending order, each search starts near the last
        found = np.empty(len(values), dtype=np.intp)
        found[order] = np.searchsorted(np.sort(base), values[order], side="left")
        return found / n
    split = np.partition(base, need - 1)
    rows = np.flatnonzero(values > split[need - 1])
    out = np.zeros(len(values))
    out[rows] = (need + np.searchsorted(np.sort(split[need:]), values[rows], side="left")) / n
    return out


def _least_below(share: float, n: int) -> int:
    """The fewest of n background scores below a score for its share (count / n, as `percentile`
    divides) to reach `share`; n + 1 when none can. Found by the division itself, not by ceil(share
    × n): 0.995 × 2,000 is not 1,990 in floats."""
    need = max(int(np.ceil(share * n)), 0)
    while need > 0 and (need - 1) / n >= share:
        need -= 1
    while need <= n and need / n < share:
        need += 1
    return min(need, n + 1)


def _not_own(background: Background, profile: Profile) -> npt.NDArray[np.bool_]:
    """The background rows that are not the reader's own papers (all when ids are unknown)."""
    keep = np.ones(len(background.vectors), dtype=bool)
    if not len(background.ids) or not profile.skip:
        return keep
    if background.rows is None:
        return np.fromiter((i not in profile.skip for i in background.ids), dtype=bool, count=len(keep))
    # By the reader's papers, not the 2,000 background ids: 5 ms a page under load (cProfile).
    found = [background.rows.get(pid) for pid in profile.skip]
    keep[[r for r in found if r is not None]] = False
    return keep


def _method(method: str, positives: int) -> str:
    """The method `library_scores` runs: "auto" is "ours" from MIN_TRAIN positives on, else "nearest"."""
    return method if method != "auto" else ("ours" if positives >= MIN_TRAIN else "nearest")


def trains_linear(*, method: str, positives: int) -> bool:
    """Whether `library_scores` may use the linear model over vectors for a library this size."""
    return positives > 0 and _method(method, positives) in ("linear", "ours")


def library_scores(
    *, candidates: Candidates, profile: Profile, background: Background, method: str = "auto"
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Raw library scores of the candidates and of the background, under one method.

    "nearest": cosine to the nearest saved paper. "linear": the per-reader linear model over
    vectors. "keywords": the keyword model over TF-IDF rows (none given: zeros). "metadata": the
    comment and category scores (library.metadata) fused. "ours" (what "auto" picks from MIN_TRAIN
    positives on): the keyword model, with VECTOR_WEIGHT of the linear model and, with metadata
    rows, COMMENT_WEIGHT and CATEGORY_WEIGHT of the metadata scores beside it, in background
    standard deviations (without TF-IDF rows: linear and nearest fused) — bench/recommend.py
    measures it against each alone and arxiv-sanity's recipe.
    """
    pos = profile.positives[:MAX_POSITIVES]
    use = _method(method, len(pos))
    vectors, base = candidates.vectors, background.vectors
    keep = _not_own(background, profile)
    words = (
        candidates.keywords is not None
        and background.keywords is not None
        and profile.positive_keywords is not None
        and profile.positive_keywords.shape[0] > 0
    )
    parts: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]] = []
    weights: list[float] = []
    # With keyword rows, "ours" leaves the nearest saved paper out: on tuning readers it added 0.002
    # Recall@20 (0.171 against 0.169) for 2,000 × library dot products per reader, most of the
    # "For you" page's time (bench/foryou_page.py, cProfile).
    if use == "nearest" or (use == "ours" and not words):
        near = np.asarray(nearest_scores(base, pos, profile.negatives)[keep], np.float64)
        parts.append((np.asarray(nearest_scores(vectors, pos, profile.negatives), np.float64), near))
        weights.append(1.0)
    if use == "linear" or (use == "ours" and (VECTOR_WEIGHT > 0 or not words)):
        if profile.linear is not None:
            cand_linear, base_linear = profile.linear
        else:
            w = linear_model(pos, background, profile.negatives)
            cand_linear, base_linear = vectors @ w, base @ w
        parts.append((np.asarray(cand_linear, np.float64), np.asarray(base_linear[keep], np.float64)))
        weights.append(VECTOR_WEIGHT if words else 1.0)
    if use in ("keywords", "ours") and words:
        rows = profile.positive_keywords
        # Sliced only when longer: a CSR slice costs ~17 µs a reader even when it keeps every row.
        kw = keyword_weights(rows if rows.shape[0] <= MAX_POSITIVES else rows[:MAX_POSITIVES], background)
        cand_kw = np.asarray(candidates.keywords @ kw, np.float64)
        parts.append((cand_kw, np.asarray((background.keywords @ kw)[keep], np.float64)))
        weights.append(1.0)
    meta = candidates.meta is not None and background.meta is not None and profile.positive_meta is not None
    if meta and use in ("ours", "metadata") and (use == "metadata" or words):
        assert candidates.meta is not None and background.meta is not None
        rows = profile.positive_meta
        mw = metadata_model(rows if rows.shape[0] <= MAX_POSITIVES else rows[:MAX_POSITIVES], background)
        cand_comment, cand_category = metadata_scores(candidates.meta, mw)
        base_comment, base_category = metadata_scores(background.meta, mw)
        parts += [(cand_comment, base_comment[keep]), (cand_category, base_category[keep])]
        weights += [COMMENT_WEIGHT, CATEGORY_WEIGHT]
    if len(parts) <= 1:
        return parts[0] if parts else (np.zeros(len(vectors)), np.zeros(int(keep.sum())))
    # The fusion: each score in standard deviations of the background's scores, weighted; as one
    # (parts × papers) product, not numpy's dozen small calls per part (0.19 of the 0.29 ms a reader
    # that the two metadata parts added, one part at a time; bench: 3,400 candidates).
    cand = np.vstack([c for c, _ in parts])
    base = np.vstack([b for _, b in parts])
    mean, std = base.mean(axis=1), base.std(axis=1)
    scale = np.asarray(weights) / np.where(std > 0, std, 1.0)
    shift = float(scale @ mean)
    return scale @ cand - shift, scale @ base - shift


def topic_scores(
    *, candidates: Candidates, profile: Profile, background: Background, tokenizer: Tokenizer
) -> npt.NDArray[np.float64]:
    """(t, n) calibrated topic scores (`_topic_scores`), each topic's row computed once per
    candidates and background when the candidates keep them (`topic_rows`; the digest's windows)."""
    assert profile.topic_vectors is not None
    cache = candidates.topic_rows
    if cache is None:
        return _topic_scores(
            candidates=candidates, profile=profile, background=background, tokenizer=tokenizer
        )
    kept = [cache.get(t) for t in profile.topics]
    todo = [
        i
        for i, (held, vec) in enumerate(zip(kept, profile.topic_vectors, strict=True))
        if held is None or held[0] is not background.vectors or not np.array_equal(held[1], vec)
    ]
    if todo:
        fresh = _topic_scores(
            candidates=candidates,
            profile=replace(
                profile, topics=[profile.topics[i] for i in todo], topic_vectors=profile.topic_vectors[todo]
            ),
            background=background,
            tokenizer=tokenizer,
        )
        for i, row in zip(todo, fresh, strict=True):
            kept[i] = cache[profile.topics[i]] = (background.vectors, profile.topic_vectors[i].copy(), row)
    out = np.zeros((len(profile.topics), len(candidates.ids)))
    for i, held in enumerate(kept):
        assert held is not None
        out[i] = held[2]
    return out


def _topic_scores(
    *, candidates: Candidates, profile: Profile, background: Background, tokenizer: Tokenizer
) -> npt.NDArray[np.float64]:
    """(t, n) calibrated topic scores.

    A paper names a topic when it holds its words in order, in any word form ("video generators"
    names "video generation"); for topics of more than topics.PHRASE_WORDS content words, every one anywhere.
    A paper that names the topic and is closer to it than TOPIC_SIMILAR of the store (a topic named
    by more than COMMON_TOPIC of the background: COMMON_TOPIC_SIMILAR) scores above FLOOR (ordered
    by closeness); any other paper scores below it. bench/recommend.py, HF ai_keywords as topics:
    precision@8 0.39 for closeness alone over the floor, 0.59 with the words.
    """
    assert profile.topic_vectors is not None
    sims = profile.topic_vectors @ candidates.vectors.T
    base = profile.topic_vectors @ background.vectors.T
    stems = candidates.stems if candidates.stems is not None else [tokenizer(t) for t in candidates.texts]
    out = np.zeros((len(profile.topics), len(candidates.ids)))
    for i, (topic, content) in enumerate(
        zip(profile.topics, topics.content_words(profile.topics, tokenizer), strict=True)
    ):
        pct = percentile(sims[i], base[i])
        named = candidates.named.get(topic) if candidates.named is not None else None
        if named is None:
            index = candidates.stem_rows
            named = topics.naming(topic, content, stems, candidates.stem_sets, tokenizer, index)
            if len(candidates.texts) == len(named):
                named = topics.surface_named(
                    named, topics.surface_patterns(topic, tokenizer), candidates.texts
                )
            if candidates.named is not None:
                candidates.named[topic] = named
        below = np.minimum(pct * FLOOR, np.nextafter(FLOOR, 0))  # never reaches the floor unnamed
        common = _named_share(topic, content, background, tokenizer) > COMMON_TOPIC
        similar = COMMON_TOPIC_SIMILAR if common else TOPIC_SIMILAR
        out[i] = np.where(named & (pct >= similar), FLOOR + (1 - FLOOR) * pct, below)
    return out


def _named_share(topic: str, content: frozenset[str], background: Background, tokenizer: Tokenizer) -> float:
    """The share of background papers that name the topic (0 without their stems), kept per topic."""
    if background.stems is None or not len(background.stems):
        return 0.0
    share = background.named.get(topic)
    if share is None:
        named = topics.naming(
            topic, content, background.stems, background.stem_sets, tokenizer, background.stem_rows
        )
        share = background.named[topic] = float(named.mean())
    return share


def _author_hits(candidates: Candidates, followed: Mapping[str, str]) -> dict[int, str]:
    from papertrend.library.service import author_key

    hits: dict[int, str] = {}
    if followed and candidates.author_rows is not None:
        for key, name in followed.items():
            for row in candidates.author_rows.get(key, ()):
                hits.setdefault(row, name)
        return hits
    if followed:
        keys = candidates.author_keys
        for row, names in enumerate(candidates.authors):
            for key in keys[row] if keys is not None else (author_key(n) for n in names):
                found = followed.get(key)
                if found:
                    hits[row] = found
                    break
    return hits


def recommend(
    *,
    candidates: Candidates,
    profile: Profile,
    background: Background,
    limit: int,
    floor: float = FLOOR,
    method: str = "auto",
    tokenizer: Tokenizer | None = None,
) -> list[Pick]:
    """The best candidates above `floor`, at most `limit`, each with its reason; never a skipped
    paper, never one twice, never one with an excluded word form or outside the followed categories."""
    tok = tokenizer or Tokenizer()
    n = len(candidates.ids)
    if not n or limit <= 0:
        return []
    best = np.zeros(n)
    # Which signal won each row, as codes into KINDS (0: none yet), and the topic it matched: one
    # array operation each, where a Python loop over every candidate row was 13% of a digest's
    # recommend (#13, cProfile); reasons are written for the picks only.
    won = np.zeros(n, dtype=np.int8)
    topic_of = np.zeros(n, dtype=np.int64)
    if len(profile.positives):
        raw, base = library_scores(
            candidates=candidates, profile=profile, background=background, method=method
        )
        lib = percentile(raw, base, at_least=floor)
        better = lib > best
        best = np.where(better, lib, best)
        won[better] = 1
    if profile.topics and profile.topic_vectors is not None:
        per_topic = topic_scores(candidates=candidates, profile=profile, background=background, tokenizer=tok)
        top = per_topic.argmax(axis=0)
        score = per_topic.max(axis=0)
        better = score > best
        best = np.where(better, score, best)
        won[better] = 2
        topic_of[better] = top[better]
    by = _author_hits(candidates, profile.authors)
    for hit in by:
        best[hit] = max(best[hit], 1.0)
        won[hit] = 3
    exclude = WordForms(profile.exclude, tokenizer=tok)
    wanted = profile.categories
    picks: list[Pick] = []
    rows: list[int] = []  # each pick's row
    seen: set[str] = set(profile.skip)
    # Only rows at or above the floor can be picked: sorting those alone (stable, so ties keep the
    # order a sort of every row gave them) took the sort from ~0.2 ms of a digest to a few µs (#13).
    above = np.flatnonzero(best >= floor)
    for row in above[np.argsort(-best[above], kind="stable")]:
        if len(picks) >= limit:
            break
        pid = candidates.ids[row]
        code = int(won[row])
        if pid in seen or not code:
            continue
        if wanted and not wanted.intersection(candidates.categories[row]):
            continue
        if exclude and exclude.matches(candidates.texts[row]):
            continue
        seen.add(pid)
        why = (
            f"matches {profile.topics[int(topic_of[row])]}"
            if code == 2
            else f"by {by[int(row)]}"
            if code == 3
            else ""
        )
        picks.append(Pick(pid, float(best[row]), KINDS[code], why))
        rows.append(int(row))
    return _library_reasons(picks, rows, candidates, profile)


def _library_reasons(
    picks: list[Pick], rows: list[int], candidates: Candidates, profile: Profile
) -> list[Pick]:
    """ "like <saved paper>" for library picks (at `rows` of the candidates): the nearest saved
    paper, computed for the picks only."""
    lib = [p for p in picks if p.kind == "library"]
    if not lib:
        return picks
    # By the picks' rows: finding each in the window's ids was 4% of `recommend` (cProfile).
    vecs = candidates.vectors[[row for p, row in zip(picks, rows, strict=True) if p.kind == "library"]]
    nearest = (vecs @ profile.positives.T).argmax(axis=1)
    titles = {p.paper_id: profile.positive_titles[int(j)] for p, j in zip(lib, nearest, strict=True)}
    return [
        Pick(p.paper_id, p.score, p.kind, f"like {_short(titles[p.paper_id])}") if p.kind == "library" else p
        for p in picks
    ]


def _short(title: str, limit: int = 80) -> str:
    text = re.sub(r"\s+", " ", title).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
