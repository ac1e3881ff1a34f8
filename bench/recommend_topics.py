"""Topic precision for bench/recommend.py (issue #13): Hugging Face `ai_keywords` as topics, a week of
HF papers as candidates; today's digest selection (digest/compose.py WindowRanker + select over a
SQLite store of the same papers and vectors) against ours (library/recommend.py with its floor)."""

from __future__ import annotations

import random
import re
import tempfile
import zlib
from collections import Counter
from datetime import UTC, date, datetime

import numpy as np

from papertrend.library import keywords
from papertrend.library import recommend as rec
from recommend_data import Corpus


def light_words(phrase: str) -> tuple[str, ...]:
    """A phrase's words, lowercased, split at every non-alphanumeric ("text-to-video" is three words),
    plurals made singular ("models" → "model", "queries" → "query"); no stemming: the stemmer makes
    "generalization" and "generation" one word."""
    out = []
    for w in re.findall(r"[a-z0-9]+", phrase.lower()):
        if len(w) > 4 and w.endswith("ies"):
            w = w[:-3] + "y"
        elif len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "us", "is")):
            w = w[:-1]
        out.append(w)
    return tuple(out)


def contains(keyword: tuple[str, ...], topic: tuple[str, ...]) -> bool:
    """Whether the keyword holds the topic's words in order ("text-to-video generation" holds "video
    generation", "knowledge distillation" holds "distillation")."""
    n = len(topic)
    return n > 0 and any(keyword[i : i + n] == topic for i in range(len(keyword) - n + 1))


def hf_weeks(corpus: Corpus) -> list[tuple[int, list[int]]]:
    """(Monday ordinal, HF rows of that week with ai_keywords)."""
    weeks: dict[int, list[int]] = {}
    for row, day in corpus.hf_day.items():
        if row in corpus.hf_keywords:
            weeks.setdefault(day - date.fromordinal(day).weekday(), []).append(row)
    return sorted((w, rows) for w, rows in weeks.items() if len(rows) >= 40)


def topic_bench(
    corpus: Corpus, vecs: np.ndarray, model: str, rng: random.Random, n_weeks: int, *, background_size: int
) -> dict[str, dict[str, float]]:
    """Precision@8 of today's selection and ours, per topic and week; both labels; each half of the topics."""
    from papertrend.search.bm25 import Tokenizer
    from papertrend.search.embedder import get_embedder, query_text

    embedder = get_embedder(model)
    tok = Tokenizer()
    weeks = hf_weeks(corpus)
    weeks = [weeks[i] for i in sorted(rng.sample(range(len(weeks)), min(n_weeks, len(weeks))))]
    bg_rows = rng.sample(range(len(corpus.ids)), background_size)
    # With their stems, as library/foryou.py's window keeps them: how much of the store names a topic.
    background = rec.Background(
        vectors=vecs[bg_rows],
        stems=[tok(keywords.text(corpus.titles[r], corpus.abstracts[r])) for r in bg_rows],
    )
    today = TodaysDigest(corpus, vecs, model, [r for _, rows in weeks for r in rows])
    # Two labels, applied alike to both selections: the HF keyword itself (its word forms), and an HF
    # keyword that holds the topic ("text-to-video generation" for "video generation"): of the papers
    # with the topic in their title, only 0.43 carry the keyword itself (405 papers of these weeks).
    results: dict[str, list[tuple[int, int, int]]] = {
        "today": [],
        "ours": [],
        "today_tuning": [],
        "ours_tuning": [],
    }
    n_topics = 0
    for monday, rows in weeks:
        counts = Counter(k.lower() for r in rows for k in dict.fromkeys(corpus.hf_keywords[r]))
        topics = [k for k, n in counts.items() if n >= 3]
        if not topics:
            continue
        cands = rec.Candidates(
            ids=[corpus.ids[r] for r in rows],
            vectors=vecs[rows],
            texts=[f"{corpus.titles[r]} {corpus.abstracts[r]}" for r in rows],
            authors=[corpus.authors[r] for r in rows],
            categories=[corpus.categories[r] for r in rows],
        )
        topic_vecs = embedder.embed([query_text(t) for t in topics])
        for topic, tv in zip(topics, topic_vecs, strict=True):
            # Keywords equal in their word forms count ("diffusion model" carries "diffusion models").
            key = tuple(tok(topic))
            relevant = {corpus.ids[r] for r in rows if key in {tuple(tok(k)) for k in corpus.hf_keywords[r]}}
            held = light_words(topic)
            holding = {
                corpus.ids[r]
                for r in rows
                if any(contains(light_words(k), held) for k in corpus.hf_keywords[r])
            }
            profile = rec.Profile(
                positives=np.zeros((0, vecs.shape[1]), np.float32),
                positive_titles=[],
                topics=[topic],
                topic_vectors=tv[None, :],
            )
            ours = [
                p.paper_id
                for p in rec.recommend(candidates=cands, profile=profile, background=background, limit=8)
            ]
            todays = today.select(topic, date.fromordinal(monday), date.fromordinal(monday + 6))
            for name, picks in (("ours", ours), ("today", todays)):
                on = sum(1 for p in picks if p in relevant)
                # Topics whose crc32 is even tune the topic rules (reported apart, as "_tuning").
                half = name + ("_tuning" if zlib.crc32(topic.encode()) % 2 == 0 else "")
                results[half].append((on, sum(1 for p in picks if p in holding), len(picks)))
            n_topics += 1
    print(f"  {n_topics} topics over {len(weeks)} weeks")
    results = {
        "today": results["today"] + results["today_tuning"],
        "ours": results["ours"] + results["ours_tuning"],
        "today_held_out": results["today"],
        "ours_held_out": results["ours"],
        "today_tuning": results["today_tuning"],
        "ours_tuning": results["ours_tuning"],
    }
    out = {}
    for name, rs in results.items():
        filled = sum(n for _, _, n in rs)
        on = sum(o for o, _, _ in rs)
        on_holding = sum(h for _, h, _ in rs)
        out[name] = {
            "precision@8": on / filled if filled else 0.0,
            "filled": filled / len(rs),
            "off_topic": (filled - on) / len(rs),
            "on_topic": on / len(rs),
            "empty_editions": sum(1 for _, _, n in rs if n == 0) / len(rs),
            "precision@8_holding": on_holding / filled if filled else 0.0,
            "on_topic_holding": on_holding / len(rs),
        }
    return out


class TodaysDigest:
    """digest/compose.py as it stands: WindowRanker + select over a SQLite store of the same papers."""

    def __init__(self, corpus: Corpus, vecs: np.ndarray, model: str, rows: list[int]) -> None:
        from papertrend.db import create_engine, transaction
        from papertrend.digest.ranking import WindowRanker
        from papertrend.migrate import upgrade
        from papertrend.papers.models import PaperIn
        from papertrend.papers.repository import upsert_many
        from papertrend.papers.tables import papers
        from papertrend.search.embedder import get_embedder
        from papertrend.search.tables import embeddings

        self.tmp = tempfile.TemporaryDirectory(prefix="bench-recommend-")
        self.engine = create_engine(f"sqlite:///{self.tmp.name}/store.db")
        upgrade(self.engine)
        now = datetime.now(UTC)
        rows = list(dict.fromkeys(rows))
        items = [
            PaperIn(
                id=corpus.ids[r],
                title=corpus.titles[r],
                source="bench",
                abstract=corpus.abstracts[r],
                authors=corpus.authors[r],
                categories=corpus.categories[r],
                listed_on=date.fromordinal(corpus.hf_day[r]),
            )
            for r in rows
        ]
        embedder = get_embedder(model)
        with transaction(self.engine) as conn:
            upsert_many(conn=conn, items=items, now=now)
            pks = dict(conn.execute(papers.select().with_only_columns(papers.c.id, papers.c.pk)).all())
            conn.execute(
                embeddings.insert(),
                [
                    dict(
                        model=embedder.name,
                        paper_pk=pks[corpus.ids[r]],
                        vector=vecs[r].astype("<f4").tobytes(),
                        created_at=now,
                    )
                    for r in rows
                ],
            )
        self.ranker = WindowRanker(engine=self.engine, embedder=embedder)
        self.texts = {
            corpus.ids[r]: (f"{corpus.titles[r]} {corpus.abstracts[r]}".lower(), tuple(corpus.categories[r]))
            for r in rows
        }
        self.day_of = {corpus.ids[r]: corpus.hf_day[r] for r in rows}

    def select(self, topic: str, since: date, until: date) -> list[str]:
        from papertrend.digest.compose import PaperText, select
        from papertrend.digest.subscriptions import Preferences

        hits = [h for h in self.ranker(topic, since, 200) if self.day_of[h.paper_id] <= until.toordinal()]
        texts = {pid: PaperText(pid, t, c) for pid, (t, c) in self.texts.items()}
        composed = select(
            prefs=Preferences(topics=(topic,)),
            trending_hits=[],
            topic_hits={topic: hits},
            texts=texts,
            sent=set(),
            n_trending=0,
            n_for_you=8,
        )
        return [pid for pid, _ in composed.for_you]
