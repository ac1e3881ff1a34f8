"""Compose editions: which subscriptions are due, and which papers each edition holds (issue #5).

An edition is (subscription, date in the subscriber's time zone). It holds

- **Trending**: the papers listed since the subscriber's previous edition, by trending score (a
  weekly edition: by votes, the week's best);
- **For you**: new papers ranked by similarity to each of the subscriber's topics (the ranker
  passed in: hybrid search in production, keyword search in tests), topics taking turns;

with the subscriber's categories and exclude keywords applied to both sections, include keywords
required in "For you", and each paper at most once across all of a subscriber's editions
(`sent_papers`). An edition with no papers is stored as `empty` and sends nothing.

The decisions (`select` here, `edition_for` and `window_since` in schedule.py) are pure; `Composer`
caches what subscribers share (a window's trending list, a topic's hits, paper texts) so 10,000
subscribers cost a few hundred searches, and `compose_due` writes editions in chunked transactions
(the SQL is in repository.py).
"""

from __future__ import annotations

import logging
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Protocol

from sqlalchemy.engine import Engine

from papertrend.db import reading, transaction
from papertrend.digest import repository
from papertrend.digest.records import Composed, PaperText, Preferences, Subscription
from papertrend.digest.render import message_id_for
from papertrend.digest.schedule import Due
from papertrend.library.topics import WordForms
from papertrend.papers.listings import trend_candidates
from papertrend.rank import TrendParams, most_upvoted, trending
from papertrend.search.bm25 import Tokenizer
from papertrend.types import Hit

log = logging.getLogger("papertrend.digest")

# (topic, since, limit) -> best-first hits among papers listed since `since`.
Ranker = Callable[[str, date, int], list[Hit]]

CHUNK = 200
# Papers read per ranked list before filters: enough that filters rarely leave a section short.
DEPTH_FACTOR = 4


class Recommender(Protocol):
    """The library-based "For you" (digest/foryou.py): (paper id, reason) picks above its floor."""

    def prepare(self, topics: Sequence[str]) -> None: ...

    def load(self, dues: Sequence[tuple[Subscription, date]]) -> None: ...

    def picks(
        self, *, sub: Subscription, since: date, sent: frozenset[str] | set[str], limit: int
    ) -> list[tuple[str, str]]: ...


def _word_pattern(words: Iterable[str]) -> re.Pattern[str] | None:
    alts = [re.escape(w.lower()) for w in words if w.strip()]
    # Look-arounds rather than \b, so keywords such as "C++" or ".NET" still match as words.
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)") if alts else None


@dataclass(frozen=True, slots=True)
class Filter:
    """A subscriber's categories and keywords, compiled once.

    Excluded words match their word forms ("benchmark" excludes "Benchmarking", "benchmarks"; #13):
    today's filter matched only the exact word and let both through. Stems of a paper are computed
    once per run and shared through `stems`.
    """

    categories: frozenset[str]
    exclude: WordForms | None
    include: re.Pattern[str] | None
    stems: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        prefs: Preferences,
        *,
        stems: dict[str, list[str]] | None = None,
        tokenizer: Tokenizer | None = None,
    ) -> Filter:
        forms = WordForms(prefs.exclude_keywords, tokenizer=tokenizer) if prefs.exclude_keywords else None
        return cls(
            frozenset(prefs.categories),
            forms if forms else None,
            _word_pattern(prefs.include_keywords),
            stems if stems is not None else {},
        )

    def excluded(self, paper: PaperText) -> bool:
        """Whether the paper holds an excluded word in any of its forms."""
        forms = self.exclude
        if forms is None:
            return False
        if forms.literal is not None and forms.literal.search(paper.text):
            return True
        if not forms.phrases:
            return False
        stems = self.stems.get(paper.id)
        if stems is None:
            stems = self.stems[paper.id] = forms.tokenizer(paper.text)
        return forms.matches_stems(stems)

    def allows(self, paper: PaperText) -> bool:
        """Whether a paper may appear in any section."""
        if self.categories and not self.categories.intersection(paper.categories):
            return False
        return not self.excluded(paper)

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
    picks: Sequence[tuple[str, str]] | None = None,
    rule: Filter | None = None,
) -> Composed:
    """The papers of an edition from ranked lists: filtered, never a sent paper, never one twice.

    With `picks` (the library recommender's (id, reason) pairs, already above its floor) "For you"
    takes those in order; without, topics take turns over `topic_hits`.
    """
    rule = rule or Filter.of(prefs)
    taken: set[str] = set(sent)
    top: list[str] = []
    for hit in trending_hits:
        if len(top) >= n_trending:
            break
        paper = texts.get(hit.paper_id)
        if paper is not None and hit.paper_id not in taken and rule.allows(paper):
            top.append(hit.paper_id)
            taken.add(hit.paper_id)
    if picks is not None:
        chosen: list[tuple[str, str]] = []
        for pid, why in picks:
            paper = texts.get(pid)
            if len(chosen) < n_for_you and paper is not None and pid not in taken and rule.wants(paper):
                chosen.append((pid, why))
                taken.add(pid)
        return Composed(tuple(top), tuple(chosen))
    # Topics take turns, each offering its best remaining paper, so one broad topic cannot fill
    # the whole section.
    turns: list[tuple[str, str]] = []
    queues = {t: list(topic_hits.get(t, ())) for t in prefs.topics}
    while len(turns) < n_for_you and any(queues.values()):
        for topic in prefs.topics:
            queue = queues[topic]
            while queue:
                pid = queue.pop(0).paper_id
                paper = texts.get(pid)
                if paper is not None and pid not in taken and rule.wants(paper):
                    turns.append((pid, topic))
                    taken.add(pid)
                    break
            if len(turns) >= n_for_you:
                break
    return Composed(tuple(top), tuple(turns))


@dataclass
class Composer:
    """Composes editions, caching what many subscribers share within one run."""

    engine: Engine
    ranker: Ranker
    n_trending: int = 10
    n_for_you: int = 8
    trend: TrendParams = field(default_factory=TrendParams)
    recommender: Recommender | None = None
    _stems: dict[str, list[str]] = field(default_factory=dict)
    _tokenizer: Tokenizer = field(default_factory=Tokenizer)
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
                for paper in repository.paper_texts(conn=conn, paper_ids=missing):
                    self._texts[paper.id] = paper
        return self._texts

    def compose_all(self, *, due: Sequence[Due], sent: Mapping[int, set[str]]) -> list[Composed]:
        """The papers of these editions: with the recommender, every edition's picks first and then
        their texts in one read (one read per subscriber was 4% of compose, cProfile)."""
        if self.recommender is None:
            return [
                self.compose(sub=d.sub, edition_date=d.edition_date, since=d.since, sent=sent[d.sub.id])
                for d in due
            ]
        limit = self.n_for_you * DEPTH_FACTOR
        picks = [
            self.recommender.picks(sub=d.sub, since=d.since, sent=sent[d.sub.id], limit=limit) for d in due
        ]
        self.texts([pid for found in picks for pid, _ in found])
        return [
            self.compose(
                sub=d.sub, edition_date=d.edition_date, since=d.since, sent=sent[d.sub.id], picks=found
            )
            for d, found in zip(due, picks, strict=True)
        ]

    def compose(
        self,
        *,
        sub: Subscription,
        edition_date: date,
        since: date,
        sent: set[str] | frozenset[str],
        picks: Sequence[tuple[str, str]] | None = None,
    ) -> Composed:
        """The papers of one edition (`picks`: the recommender's for it, when already asked)."""
        prefs = sub.prefs
        # Ages are measured at the end of the edition's day, the same instant for every subscriber
        # of that window, so one ranking serves them all.
        at = datetime.combine(edition_date + timedelta(days=1), time(), UTC)
        top = self.trending_hits(since=since, until=edition_date, cadence=prefs.cadence, at=at)
        rule = Filter.of(prefs, stems=self._stems, tokenizer=self._tokenizer)
        if self.recommender is not None:
            if picks is None:
                picks = self.recommender.picks(
                    sub=sub, since=since, sent=sent, limit=self.n_for_you * DEPTH_FACTOR
                )
            texts = self.texts([h.paper_id for h in top] + [pid for pid, _ in picks])
            return select(
                prefs=prefs,
                trending_hits=top,
                topic_hits={},
                texts=texts,
                sent=sent,
                n_trending=self.n_trending,
                n_for_you=self.n_for_you,
                picks=picks,
                rule=rule,
            )
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
            rule=rule,
        )


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
        due = repository.due_editions(conn=conn, now=now, only=only)
    report.due = len(due)
    topics = [t for d in due for t in d.sub.prefs.topics]
    if composer.recommender is not None:
        composer.recommender.prepare(topics)
    else:
        prepare = getattr(composer.ranker, "prepare", None)
        if callable(prepare):
            prepare(topics)
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
                done = repository.stored_editions(conn=conn, due=chunk)
                report.skipped += sum((d.sub.id, d.edition_date) in done for d in chunk)
                chunk = [d for d in chunk if (d.sub.id, d.edition_date) not in done]
                if not chunk:
                    continue
            sent = repository.sent_ids(conn=conn, subscription_ids=[d.sub.id for d in chunk])
        if composer.recommender is not None:
            composer.recommender.load([(d.sub, d.since) for d in chunk])
        made = list(zip(chunk, composer.compose_all(due=chunk, sent=sent), strict=True))
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
            stored = repository.store_editions(conn=conn, items=items, now=now)
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
