"""Compose editions: which subscriptions are due, and which papers each edition holds (issue #5).

An edition is (subscription, date in the subscriber's time zone). It holds

- **Trending**: the papers listed since the subscriber's previous edition, by trending score (a
  weekly edition: by votes, the week's best);
- **For you**: new papers ranked by similarity to each of the subscriber's topics (the ranker
  passed in: hybrid search in production, keyword search in tests), topics taking turns;

with the subscriber's categories and exclude keywords applied to both sections, include keywords
required in "For you", and each paper at most once across all of a subscriber's editions
(`sent_papers`). An edition with no papers is stored as `empty` and sends nothing.

The decisions (`edition_for`, `window_since`, `select`) are pure; `Composer` caches what
subscribers share (a window's trending list, a topic's hits, paper texts) so 10,000 subscribers
cost a few hundred searches, and `compose_due` writes editions in chunked transactions.
"""

from __future__ import annotations

import logging
import math
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from papertrend.db import reading, transaction
from papertrend.digest.render import message_id_for
from papertrend.digest.subscriptions import Preferences, Subscription, from_row
from papertrend.digest.tables import digest_editions, insert_for, sent_papers, subscriptions
from papertrend.papers.listings import trend_candidates
from papertrend.papers.repository import listing_day_expr as paper_day
from papertrend.rank import TrendParams, most_upvoted, trending
from papertrend.schema import embeddings, papers
from papertrend.search import hybrid
from papertrend.search.embedder import Embedder, query_text
from papertrend.search.keyword import STOPWORDS
from papertrend.search.types import Hit

log = logging.getLogger("papertrend.digest")

# (topic, since, limit) -> best-first hits among papers listed since `since`.
Ranker = Callable[[str, date, int], list[Hit]]

# How far back an edition may reach when the previous one is long ago (a pause, a new subscriber).
MAX_WINDOW_DAYS = 7
CHUNK = 200
# Papers read per ranked list before filters: enough that filters rarely leave a section short.
DEPTH_FACTOR = 4


# ------------------------------------------------------------------------------------------- pure


def scheduled_at(prefs: Preferences, day: date) -> datetime:
    """The instant an edition of `day` is due: the send hour in the subscriber's zone, in UTC."""
    from zoneinfo import ZoneInfo

    return datetime.combine(day, time(prefs.send_hour), tzinfo=ZoneInfo(prefs.timezone)).astimezone(UTC)


def edition_for(*, prefs: Preferences, confirmed_at: datetime | None, now: datetime) -> date | None:
    """The latest edition date whose send time has passed at `now`; None before the first one.

    Only editions scheduled after confirmation count, so someone confirming at 10:00 with an 08:00
    send hour gets their first mail the next morning. Missed editions are not caught up: the latest
    one covers everything since the previous edition.
    """
    if confirmed_at is None:
        return None
    from zoneinfo import ZoneInfo

    day = now.astimezone(ZoneInfo(prefs.timezone)).date()
    step = timedelta(days=1)
    if prefs.cadence == "weekly":
        day -= timedelta(days=(day.weekday() - prefs.send_weekday) % 7)
        step = timedelta(days=7)
    if scheduled_at(prefs, day) > now:
        day -= step
    return day if scheduled_at(prefs, day) >= confirmed_at else None


def window_since(*, edition_date: date, cadence: str, previous: date | None) -> date:
    """The first listing day an edition covers: the previous edition's day, within MAX_WINDOW_DAYS."""
    default = edition_date - timedelta(days=7 if cadence == "weekly" else 1)
    if previous is None:
        return default
    return max(previous, edition_date - timedelta(days=MAX_WINDOW_DAYS))


@dataclass(frozen=True, slots=True)
class PaperText:
    """What filters look at: the words of a paper and its categories."""

    id: str
    text: str  # title and abstract, lower-cased
    categories: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Composed:
    """The papers of one edition: trending ids, and (id, topic) pairs for "For you"."""

    trending: tuple[str, ...] = ()
    for_you: tuple[tuple[str, str], ...] = ()

    @property
    def empty(self) -> bool:
        return not self.trending and not self.for_you

    @property
    def paper_ids(self) -> list[str]:
        return [*self.trending, *(pid for pid, _ in self.for_you)]

    def to_json(self) -> dict[str, Any]:
        return {"trending": list(self.trending), "for_you": [list(p) for p in self.for_you]}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> Composed:
        return cls(
            trending=tuple(value.get("trending", ())),
            for_you=tuple((str(p), str(t)) for p, t in value.get("for_you", ())),
        )


def _word_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    alts = [re.escape(w.lower()) for w in words if w.strip()]
    # Look-arounds rather than \b, so keywords such as "C++" or ".NET" still match as words.
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)") if alts else None


@dataclass(frozen=True, slots=True)
class Filter:
    """A subscriber's categories and keywords, compiled once."""

    categories: frozenset[str]
    exclude: re.Pattern[str] | None
    include: re.Pattern[str] | None

    @classmethod
    def of(cls, prefs: Preferences) -> Filter:
        return cls(
            frozenset(prefs.categories),
            _word_pattern(prefs.exclude_keywords),
            _word_pattern(prefs.include_keywords),
        )

    def allows(self, paper: PaperText) -> bool:
        """Whether a paper may appear in any section."""
        if self.categories and not self.categories.intersection(paper.categories):
            return False
        return not (self.exclude and self.exclude.search(paper.text))

    def wants(self, paper: PaperText) -> bool:
        """Whether a paper may appear in "For you" (include keywords, when given, are required)."""
        return self.allows(paper) and (self.include is None or bool(self.include.search(paper.text)))


def select(
    *,
    prefs: Preferences,
    trending_hits: Sequence[Hit],
    topic_hits: Mapping[str, Sequence[Hit]],
    texts: Mapping[str, PaperText],
    sent: set[str] | frozenset[str],
    n_trending: int,
    n_for_you: int,
) -> Composed:
    """The papers of an edition from ranked lists: filtered, never a sent paper, never one twice."""
    rule = Filter.of(prefs)
    taken: set[str] = set(sent)
    top: list[str] = []
    for hit in trending_hits:
        if len(top) >= n_trending:
            break
        paper = texts.get(hit.paper_id)
        if paper is not None and hit.paper_id not in taken and rule.allows(paper):
            top.append(hit.paper_id)
            taken.add(hit.paper_id)
    # Topics take turns, each offering its best remaining paper, so one broad topic cannot fill
    # the whole section.
    picks: list[tuple[str, str]] = []
    queues = {t: list(topic_hits.get(t, ())) for t in prefs.topics}
    while len(picks) < n_for_you and any(queues.values()):
        for topic in prefs.topics:
            queue = queues[topic]
            while queue:
                pid = queue.pop(0).paper_id
                paper = texts.get(pid)
                if paper is not None and pid not in taken and rule.wants(paper):
                    picks.append((pid, topic))
                    taken.add(pid)
                    break
            if len(picks) >= n_for_you:
                break
    return Composed(tuple(top), tuple(picks))


# ------------------------------------------------------------------------------------------ composer


@dataclass
class Composer:
    """Composes editions, caching what many subscribers share within one run."""

    engine: Engine
    ranker: Ranker
    n_trending: int = 10
    n_for_you: int = 8
    trend: TrendParams = field(default_factory=TrendParams)
    _trending: dict[tuple[date, date, str], list[Hit]] = field(default_factory=dict)
    _topics: dict[tuple[str, date], list[Hit]] = field(default_factory=dict)
    _texts: dict[str, PaperText] = field(default_factory=dict)
    searches: int = 0

    def trending_hits(self, *, since: date, until: date, cadence: str, at: datetime) -> list[Hit]:
        """The window's papers, best first (trending score; votes for a weekly edition)."""
        key = (since, until, cadence)
        if key not in self._trending:
            with reading(self.engine) as conn:
                candidates = trend_candidates(conn=conn, start=since, end=until)
            ranked = (
                most_upvoted(candidates)
                if cadence == "weekly"
                else trending(candidates, now=at, params=self.trend)
            )
            # Deep enough for any filter a subscriber is likely to set; the rest is never read.
            self._trending[key] = ranked[: max(self.n_trending * 20, 200)]
        return self._trending[key]

    def topic_hits(self, *, topic: str, since: date) -> list[Hit]:
        """The ranker's hits for one topic, shared by every subscriber who follows it."""
        key = (" ".join(topic.lower().split()), since)
        if key not in self._topics:
            self.searches += 1
            self._topics[key] = self.ranker(topic, since, self.n_for_you * DEPTH_FACTOR)
        return self._topics[key]

    def texts(self, ids: Iterable[str]) -> dict[str, PaperText]:
        """Filter texts of the papers, read once per run."""
        missing = [i for i in dict.fromkeys(ids) if i not in self._texts]
        if missing:
            with reading(self.engine) as conn:
                for start in range(0, len(missing), 900):
                    stmt = sa.select(
                        papers.c.id, papers.c.title, papers.c.abstract, papers.c.categories
                    ).where(papers.c.id.in_(missing[start : start + 900]))
                    for pid, title, abstract, cats in conn.execute(stmt):
                        text = f"{title}\n{abstract or ''}".lower()
                        self._texts[pid] = PaperText(pid, text, tuple(cats or ()))
        return self._texts

    def compose(
        self, *, sub: Subscription, edition_date: date, since: date, sent: set[str] | frozenset[str]
    ) -> Composed:
        """The papers of one edition."""
        prefs = sub.prefs
        # Ages are measured at the end of the edition's day, the same instant for every subscriber
        # of that window, so one ranking serves them all.
        at = datetime.combine(edition_date + timedelta(days=1), time(), UTC)
        top = self.trending_hits(since=since, until=edition_date, cadence=prefs.cadence, at=at)
        per_topic = {t: self.topic_hits(topic=t, since=since) for t in prefs.topics}
        texts = self.texts([h.paper_id for h in top] + [h.paper_id for hs in per_topic.values() for h in hs])
        return select(
            prefs=prefs,
            trending_hits=top,
            topic_hits=per_topic,
            texts=texts,
            sent=sent,
            n_trending=self.n_trending,
            n_for_you=self.n_for_you,
        )


# ------------------------------------------------------------------------------------- window ranker

_WORD = re.compile(r"[^\W_]+")
BM25_K1 = 1.2
BM25_B = 0.75
TITLE_WEIGHT = 3  # as keyword search weighs titles (search/keyword.py DEFAULT_WEIGHTS)


def _terms(text: str) -> list[str]:
    """Lower-cased words without stopwords, plural "s" folded: a light match for topic phrases."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in STOPWORDS:
            continue
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        out.append(word)
    return out


class WindowRanker:
    """Hybrid ranking of a topic over the papers listed since a day: the digest's "For you".

    The same two signals as hybrid search — words (BM25, titles weighted as keyword search weighs
    them) and meaning (the stored vectors of `embedder`'s model), fused by reciprocal rank — but
    over the new papers only, held in memory: a day of arXiv is a few thousand papers, so a topic
    costs one embedding and a few small array operations instead of a search of the whole store.
    That is what lets every subscriber's own topics be ranked for 10,000 subscribers in seconds.

    Papers are read and tokenised once per run, back to the earliest day asked for; a later `since`
    only masks the older ones out.
    """

    def __init__(
        self, *, engine: Engine, embedder: Embedder | None, lexical: bool = True, rrf_k: float = 60.0
    ) -> None:
        self.engine = engine
        self.embedder = embedder
        self.use_lexical = lexical
        self.rrf_k = rrf_k
        self._floor: date | None = None
        self._ids: list[str] = []
        self._days: list[int] = []  # ordinal of each paper's day
        self._lengths: list[float] = []
        self._terms: dict[str, tuple[list[int], list[float]]] = {}
        self._blobs: list[bytes] = []
        self._vector_docs: list[int] = []
        self._arrays: dict[str, Any] = {}  # numpy views built after each load
        self._masks: dict[date, Any] = {}
        self._queries: dict[str, Any] = {}
        self._prepared: list[str] = []

    def _load(self, since: date) -> None:
        """Read the papers listed in [since, current floor) and add them to the corpus."""
        import numpy as np

        from papertrend.search.vectors import from_blobs

        day = paper_day()
        where = [day >= since]
        if self._floor is not None:
            where.append(day < self._floor)
        with reading(self.engine) as conn:
            rows = conn.execute(
                sa.select(papers.c.pk, papers.c.id, papers.c.title, papers.c.abstract, day).where(*where)
            ).all()
            first = len(self._ids)
            index = {int(r[0]): first + i for i, r in enumerate(rows)}
            if self.embedder is not None and rows:
                stmt = (
                    sa.select(embeddings.c.paper_pk, embeddings.c.vector)
                    .join(papers, papers.c.pk == embeddings.c.paper_pk)
                    .where(embeddings.c.model == self.embedder.name, *where)
                )
                for pk, blob in conn.execute(stmt):
                    if int(pk) in index:
                        self._vector_docs.append(index[int(pk)])
                        self._blobs.append(blob)
        for i, (_, pid, title, abstract, listed) in enumerate(rows, start=first):
            counts: dict[str, float] = {}
            title_terms, abstract_terms = _terms(title), _terms(abstract or "")
            for term in title_terms:
                counts[term] = counts.get(term, 0.0) + TITLE_WEIGHT
            for term in abstract_terms:
                counts[term] = counts.get(term, 0.0) + 1.0
            for term, tf in counts.items():
                docs, tfs = self._terms.setdefault(term, ([], []))
                docs.append(i)
                tfs.append(tf)
            self._ids.append(str(pid))
            self._days.append(_as_day(listed).toordinal() if listed is not None else 0)
            self._lengths.append(TITLE_WEIGHT * len(title_terms) + len(abstract_terms))
        self._floor = since
        self._arrays = {
            "days": np.asarray(self._days, dtype=np.int64),
            "lengths": np.asarray(self._lengths, dtype=np.float32),
            "vector_docs": np.asarray(self._vector_docs, dtype=np.int64),
        }
        if self.embedder is not None:
            self._arrays["vectors"] = from_blobs(self._blobs, self.embedder.dim)
        self._postings: dict[str, tuple[Any, Any]] = {}
        self._masks = {}

    def _posting(self, term: str) -> tuple[Any, Any] | None:
        import numpy as np

        found = self._postings.get(term)
        if found is None:
            raw = self._terms.get(term)
            if raw is None:
                return None
            found = self._postings[term] = (
                np.asarray(raw[0], dtype=np.int64),
                np.asarray(raw[1], dtype=np.float32),
            )
        return found

    def _lexical(self, topic: str, since: date, depth: int) -> list[Hit]:
        import numpy as np

        days, lengths = self._arrays["days"], self._arrays["lengths"]
        start = since.toordinal()
        live = days >= start
        n = int(live.sum())
        if not n:
            return []
        avg = float(lengths[live].mean()) or 1.0
        scores = np.zeros(len(days), dtype=np.float32)
        for term in set(_terms(topic)):
            posting = self._posting(term)
            if posting is None:
                continue
            docs, tfs = posting
            keep = days[docs] >= start
            docs, tfs = docs[keep], tfs[keep]
            if not len(docs):
                continue
            idf = math.log(1 + (n - len(docs) + 0.5) / (len(docs) + 0.5))
            norm = tfs + BM25_K1 * (1 - BM25_B + BM25_B * lengths[docs] / avg)
            scores[docs] += idf * tfs * (BM25_K1 + 1) / norm
        return _top(scores, self._ids, np.nonzero(scores > 0)[0], depth)

    def prepare(self, topics: Sequence[str]) -> None:
        """Embed the topics a run will ask for in one batch (one model call, then one matrix product
        per window instead of one per topic)."""
        if self.embedder is None:
            return
        todo = [t for t in dict.fromkeys(topics) if t not in self._queries]
        if todo:
            for topic, vector in zip(todo, self.embedder.embed([query_text(t) for t in todo]), strict=True):
                self._queries[topic] = vector
        self._prepared = list(self._queries)

    def _semantic(self, topic: str, since: date, depth: int) -> list[Hit]:
        import numpy as np

        assert self.embedder is not None
        window = self._masks.get(since)
        if window is None:
            rows = np.nonzero(self._arrays["days"][self._arrays["vector_docs"]] >= since.toordinal())[0]
            window = self._masks[since] = {"rows": rows, "matrix": self._arrays["vectors"][rows]}
            if self._prepared and len(rows):
                # All prepared topics against the window at once: one BLAS call, not hundreds.
                queries = np.stack([self._queries[t] for t in self._prepared])
                window["scores"] = window["matrix"] @ queries.T
                window["columns"] = {t: i for i, t in enumerate(self._prepared)}
        rows = window["rows"]
        if not len(rows):
            return []
        column = window.get("columns", {}).get(topic)
        if column is not None:
            sims = window["scores"][:, column]
        else:
            query = self._queries.get(topic)
            if query is None:
                query = self._queries[topic] = self.embedder.embed([query_text(topic)])[0]
            sims = window["matrix"] @ query
        docs = self._arrays["vector_docs"][rows]
        order = np.argsort(-sims, kind="stable")[:depth]
        return [Hit(self._ids[int(docs[i])], float(sims[i])) for i in order]

    def __call__(self, topic: str, since: date, limit: int) -> list[Hit]:
        """The papers listed since `since` best matching the topic."""
        if self._floor is None or since < self._floor:
            self._load(since)
        depth = max(limit, 50)
        lists = []
        if self.use_lexical:
            lists.append(self._lexical(topic, since, depth))
        if self.embedder is not None:
            lists.append(self._semantic(topic, since, depth))
        return hybrid.fuse(lists, fusion="rrf", rrf_k=self.rrf_k)[:limit]


def _top(scores: Any, ids: list[str], candidates: Any, depth: int) -> list[Hit]:
    import numpy as np

    if not len(candidates):
        return []
    # Best first; ties to the earlier paper, so results are stable.
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:depth]
    return [Hit(ids[int(i)], float(scores[int(i)])) for i in order]


def _as_day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


# ---------------------------------------------------------------------------------------- due + store


@dataclass(frozen=True, slots=True)
class Due:
    """A subscription whose edition of `edition_date`, covering papers since `since`, is not yet composed."""

    sub: Subscription
    edition_date: date
    since: date


def due_editions(*, conn: Connection, now: datetime, only: int | None = None) -> list[Due]:
    """Confirmed, unpaused subscriptions whose latest edition date has passed and has no edition yet."""
    stmt = sa.select(subscriptions).where(
        subscriptions.c.status == "confirmed", subscriptions.c.paused.is_(False)
    )
    if only is not None:
        stmt = stmt.where(subscriptions.c.id == only)
    candidates: list[tuple[Subscription, date]] = []
    for row in conn.execute(stmt).mappings():
        sub = from_row(row)
        try:
            day = edition_for(prefs=sub.prefs, confirmed_at=sub.confirmed_at, now=now)
        except Exception:  # a time zone that vanished from tzdata must not stop everyone's mail
            log.exception("digest.bad_schedule", extra={"subscription": sub.id})
            continue
        if day is not None:
            candidates.append((sub, day))
    if not candidates:
        return []
    oldest = min(d for _, d in candidates) - timedelta(days=MAX_WINDOW_DAYS + 7)
    rows = conn.execute(
        sa.select(
            digest_editions.c.subscription_id, digest_editions.c.edition_date, digest_editions.c.status
        ).where(digest_editions.c.edition_date >= oldest)
    )
    existing: set[tuple[int, date]] = set()
    previous: dict[int, date] = {}
    for sid, day, status in rows:
        existing.add((int(sid), day))
        # Empty and cancelled editions sent nothing: the next one still covers their days.
        if status not in ("empty", "cancelled") and day > previous.get(int(sid), date.min):
            previous[int(sid)] = day
    out = []
    for sub, day in candidates:
        if (sub.id, day) in existing:
            continue
        prev = previous.get(sub.id)
        prev = prev if prev is not None and prev < day else None
        out.append(Due(sub, day, window_since(edition_date=day, cadence=sub.prefs.cadence, previous=prev)))
    return out


def stored_editions(*, conn: Connection, due: Sequence[Due]) -> set[tuple[int, date]]:
    """Which of `due` have an edition stored by now, as (subscription id, edition date)."""
    if not due:
        return set()
    rows = conn.execute(
        sa.select(digest_editions.c.subscription_id, digest_editions.c.edition_date).where(
            digest_editions.c.subscription_id.in_([d.sub.id for d in due]),
            digest_editions.c.edition_date >= min(d.edition_date for d in due),
        )
    )
    wanted = {(d.sub.id, d.edition_date) for d in due}
    return {(int(sid), _as_day(day)) for sid, day in rows} & wanted


def sent_ids(*, conn: Connection, subscription_ids: Sequence[int]) -> dict[int, set[str]]:
    """Every paper already put in an edition of each subscription."""
    out: dict[int, set[str]] = {i: set() for i in subscription_ids}
    for start in range(0, len(subscription_ids), 900):
        chunk = list(subscription_ids[start : start + 900])
        stmt = sa.select(sent_papers.c.subscription_id, sent_papers.c.paper_id).where(
            sent_papers.c.subscription_id.in_(chunk)
        )
        for sid, pid in conn.execute(stmt):
            out[int(sid)].add(pid)
    return out


def store_editions(
    *,
    conn: Connection,
    items: Sequence[tuple[Due, Composed, str]],
    now: datetime,
) -> dict[int, int]:
    """Insert editions (due, papers, Message-ID) and claim their papers as sent, in two statements.

    Returns {subscription id: edition id} of those inserted; an edition another run stored first
    is left out, and its papers are not claimed. Set-based (issue #5: two statements per edition
    were a third of composing).
    """
    if not items:
        return {}
    stmt = (
        insert_for(conn, digest_editions)
        .on_conflict_do_nothing()
        .returning(digest_editions.c.id, digest_editions.c.subscription_id, digest_editions.c.edition_date)
    )
    rows = [
        {
            "subscription_id": due.sub.id,
            "edition_date": due.edition_date,
            "since": due.since,
            "status": "empty" if composed.empty else "queued",
            "papers": composed.to_json(),
            "message_id": message_id,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "updated_at": now,
        }
        for due, composed, message_id in items
    ]
    inserted = {(int(sid), day): int(eid) for eid, sid, day in conn.execute(stmt, rows)}
    claims = [
        {
            "subscription_id": due.sub.id,
            "paper_id": pid,
            "edition_id": inserted[(due.sub.id, due.edition_date)],
        }
        for due, composed, _ in items
        if (due.sub.id, due.edition_date) in inserted
        for pid in composed.paper_ids
    ]
    if claims:
        conn.execute(insert_for(conn, sent_papers).on_conflict_do_nothing(), claims)
    return {sid: eid for (sid, _), eid in inserted.items()}


@dataclass
class ComposeReport:
    """What one compose pass did."""

    due: int = 0
    queued: int = 0
    empty: int = 0
    skipped: int = 0  # composed meanwhile by another run
    searches: int = 0
    planned: list[tuple[Due, Composed]] = field(default_factory=list)  # dry runs only

    def summary(self) -> str:
        return (
            f"{self.due} due, {self.queued} queued, {self.empty} without new papers (no mail), "
            f"{self.skipped} already composed elsewhere, {self.searches} topic searches"
        )


def compose_due(
    *,
    engine: Engine,
    composer: Composer,
    now: datetime,
    secret: str,
    domain: str,
    dry_run: bool = False,
    only: int | None = None,
) -> ComposeReport:
    """Compose every due edition into the outbox, in chunks of CHUNK subscribers per transaction."""
    report = ComposeReport()
    with reading(engine) as conn:
        due = due_editions(conn=conn, now=now, only=only)
    report.due = len(due)
    prepare = getattr(composer.ranker, "prepare", None)
    if callable(prepare):
        prepare([t for d in due for t in d.sub.prefs.topics])
    chunks = [due[start : start + CHUNK] for start in range(0, len(due), CHUNK)]
    if not dry_run and len(chunks) > 1:
        # Runs started together (several workers or `digest run` processes, issue #6) would compose
        # the same chunks in step, every one but the first for nothing: each starts at a chunk of
        # its own, and skips below what another has stored since `due` was read.
        first = random.randrange(len(chunks))
        chunks = chunks[first:] + chunks[:first]
    for chunk in chunks:
        with reading(engine) as conn:
            if not dry_run:
                done = stored_editions(conn=conn, due=chunk)
                report.skipped += sum((d.sub.id, d.edition_date) in done for d in chunk)
                chunk = [d for d in chunk if (d.sub.id, d.edition_date) not in done]
                if not chunk:
                    continue
            sent = sent_ids(conn=conn, subscription_ids=[d.sub.id for d in chunk])
        made = [
            (d, composer.compose(sub=d.sub, edition_date=d.edition_date, since=d.since, sent=sent[d.sub.id]))
            for d in chunk
        ]
        if dry_run:
            report.planned.extend(made)
            report.empty += sum(c.empty for _, c in made)
            report.queued += sum(not c.empty for _, c in made)
            continue
        items = [
            (
                d,
                composed,
                message_id_for(
                    subscription_id=d.sub.id, edition_date=d.edition_date, secret=secret, domain=domain
                ),
            )
            for d, composed in made
        ]
        with transaction(engine) as conn:
            stored = store_editions(conn=conn, items=items, now=now)
            for d, composed in made:
                if d.sub.id not in stored:
                    report.skipped += 1
                elif composed.empty:
                    report.empty += 1
                    log.debug(
                        "digest.empty", extra={"subscription": d.sub.id, "edition": str(d.edition_date)}
                    )
                else:
                    report.queued += 1
    report.searches = composer.searches
    if report.empty:
        log.info("digest.no_new_papers: %d editions had nothing new to send; no mail for them", report.empty)
    return report
