"""The digest's For you shares work between the windows of a run and keeps keyword rows between runs
(#13: 200 digests/s): each subscriber's picks and reasons are still those of a window built alone,
the old way, on the same background sample."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy.engine import Engine

from papertrend.accounts import repository as accounts
from papertrend.db import reading, transaction
from papertrend.digest import subscriptions as subs
from papertrend.digest.foryou import LibraryRecommender
from papertrend.library import foryou, keywords, metadata, service
from papertrend.library import repository as repo
from papertrend.library.recommend import MAX_POSITIVES, Background, recommend
from papertrend.papers import repository as papers_repo
from papertrend.papers.models import PaperIn
from papertrend.search.bm25 import Tokenizer
from papertrend.search.embed_job import embed_missing
from papertrend.search.embedder import FAST_MODEL, get_embedder
from tests.digest_support import add_subscriber

NOW = datetime(2026, 8, 22, 9, tzinfo=UTC)

TOPICS = ["video generation", "language model agents", "protein structure", "graph neural networks"]
CLUSTERS = [
    "video generation diffusion frames temporal motion synthesis clips",
    "language model agents planning tools reasoning dialogue prompts",
    "protein structure folding molecules binding residues docking",
    "graph neural networks message passing nodes edges molecules",
    "robot manipulation grasping control policies demonstrations",
    "speech recognition acoustic transcription phonemes accents",
]
COMMON = ["we", "propose", "method", "results", "show", "experiments", "benchmark", "approach"]
DAY = date(2026, 8, 21)


def _text(rng: random.Random, cluster: int) -> tuple[str, str]:
    words = CLUSTERS[cluster].split()
    title = f"{' '.join(words[:2])} with {rng.choice(words)} {rng.choice(words)}".capitalize()
    abstract = " ".join(rng.choice(words if rng.random() < 0.6 else COMMON) for _ in range(40))
    if rng.random() < 0.1:
        abstract += " A survey."
    return title, abstract


@pytest.fixture
def store(engine: Engine) -> Engine:
    """600 older papers and 150 listed over the last week, in six themes, with wordllama vectors."""
    rng = random.Random(3)
    items = []
    for i in range(750):
        cluster = i % len(CLUSTERS)
        title, abstract = _text(rng, cluster)
        day = DAY - timedelta(days=30 + i % 40) if i < 600 else DAY - timedelta(days=(i - 600) % 7)
        items.append(
            PaperIn(
                id=f"2608.{i:05d}", title=title, abstract=abstract, source="t", listed_on=day,
                authors=[f"Author {i % 90}", f"Writer {cluster}"],
                # Comments and categories that follow the theme now and then: the metadata scores
                # (library/metadata.py) take part in the picks compared below.
                comment=f"Accepted to Venue {cluster}" if i % 3 == 0 else None,
                categories=[f"cs.{'CV' if cluster % 2 else 'CL'}", *(["cs.LG"] if i % 5 == 0 else [])],
            )
        )  # fmt: skip
    with transaction(engine) as conn:
        papers_repo.upsert_many(conn=conn, items=items, now=NOW)
    embed_missing(engine=engine, embedder=get_embedder(FAST_MODEL))
    return engine


def _readers(engine: Engine, n: int) -> list[subs.Subscription]:
    """`n` subscribers with topics, some with excluded words, each with an account that saved 10
    older papers of one theme (the per-reader models from 8 on) and followed one author."""
    out = []
    for i in range(n):
        prefs = subs.Preferences(
            topics=[TOPICS[i % len(TOPICS)], TOPICS[(i + 1) % len(TOPICS)]][: 1 + i % 2],
            exclude_keywords=["survey"] if i % 3 == 0 else [],
        )
        sub = add_subscriber(engine, f"reader{i}@example.org", confirmed_at=NOW, prefs=prefs)
        with transaction(engine) as conn:
            uid = accounts.user_for_login(conn=conn, email=sub.email, now=NOW).id
            for k in range(10):
                paper = (i % len(CLUSTERS)) + len(CLUSTERS) * (k + 5 * i)
                service.save(conn=conn, user_id=uid, paper_id=f"2608.{paper % 600:05d}", now=NOW)
            service.follow(conn=conn, user_id=uid, name=f"Author {(i * 7) % 90}", now=NOW)
        out.append(sub)
    return out


def _alone(
    engine: Engine, rec: LibraryRecommender, sub: subs.Subscription, since: date
) -> list[tuple[str, str]]:
    """The subscriber's picks from a window built alone (fresh tokenizer, fresh keyword rows) on the
    background sample the shared window drew."""
    shared = rec.window(since)
    emb, vec = rec.embedder, rec._vectorizer
    with reading(engine) as conn:
        cands = foryou.candidates_since(conn=conn, model=emb.name, dim=emb.dim, since=since).with_stems(
            Tokenizer()
        )
        ids = list(shared.background.ids)
        pk_of = repo.pks_for_ids(conn=conn, paper_ids=ids)
        held = foryou.background_texts(conn=conn, model=emb.name, dim=emb.dim, paper_pks=list(pk_of.values()))
        rows = [held[pk_of[i]] for i in ids]
        # With the background's stems, as foryou.window builds the page's: a topic most of the store
        # names needs closer picks (recommend.COMMON_TOPIC).
        tokenize = Tokenizer()
        base = Background(
            vectors=np.stack([r[1] for r in rows]),
            ids=ids,
            stems=[tokenize(r[2]) for r in rows],
            meta=metadata.Block.of(metadata.rows([r[3] for r in rows])),
        )
        if vec is not None:
            cands = replace(cands, keywords=keywords.rows(vec, cands.texts))
            base = replace(base, keywords=keywords.rows(vec, [r[2] for r in rows]))
        uid = repo.user_ids_for_emails(conn=conn, emails=[sub.email])[sub.email]
        reader = foryou.readers(conn=conn, user_ids=[uid], model=emb.name, dim=emb.dim)[uid]
        texts = repo.paper_texts(conn=conn, paper_pks=reader.positive_pks[:MAX_POSITIVES])
        metas = repo.paper_meta(conn=conn, paper_pks=reader.positive_pks[:MAX_POSITIVES])
    mine = [pk for pk in reader.positive_pks[:MAX_POSITIVES] if pk in texts]
    profile = foryou.profile_of(
        reader,
        dim=emb.dim,
        topics=sub.prefs.topics,
        topic_vectors=np.stack([rec._topics[t] for t in sub.prefs.topics]),
        exclude=sub.prefs.exclude_keywords,
        positive_keywords=keywords.rows(vec, [texts[pk] for pk in mine])
        if vec is not None and mine
        else None,
        positive_meta=metadata.rows([metas[pk] for pk in mine]) if mine else None,
    )
    found = recommend(candidates=cands, profile=profile, background=base.prepared(), limit=32)
    return [(p.paper_id, p.reason) for p in found]


def test_shared_windows_pick_what_a_window_alone_picks(store: Engine, tmp_path: Path) -> None:
    readers = _readers(store, 8)
    windows = [DAY - timedelta(days=6), DAY - timedelta(days=2)]
    rec = LibraryRecommender(engine=store, embedder=get_embedder(FAST_MODEL), cache_dir=tmp_path)
    dues = [(sub, windows[i % 2]) for i, sub in enumerate(readers)]
    rec.prepare([t for sub, _ in dues for t in sub.prefs.topics])
    rec.load(dues)
    got = {sub.id: rec.picks(sub=sub, since=since, sent=frozenset(), limit=32) for sub, since in dues}
    assert rec._vectorizer is not None, "the sample is big enough for the keyword model"
    assert sum(map(len, got.values())) >= len(readers), "the comparison has picks to compare"
    assert any(why.startswith("like ") for picks in got.values() for _, why in picks)
    for sub, since in dues:
        assert got[sub.id] == _alone(store, rec, sub, since), sub.email
    # The windows overlap: one random order gave them most of one background.
    a, b = (set(rec.window(w).background.ids) for w in windows)
    assert len(a & b) >= 0.5 * min(len(a), len(b))

    # The next run reads the keyword rows instead of computing them, and picks the same.
    assert (tmp_path / foryou.KEYWORD_ROWS_FILE).exists()
    again = LibraryRecommender(engine=store, embedder=get_embedder(FAST_MODEL), cache_dir=tmp_path)
    again._order = rec._order  # the same background sample
    again.prepare([t for sub, _ in dues for t in sub.prefs.topics])
    again.load(dues)
    assert again._rows is not None and again._rows.added == 0
    assert {
        sub.id: again.picks(sub=sub, since=since, sent=frozenset(), limit=32) for sub, since in dues
    } == got
