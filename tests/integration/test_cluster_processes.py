"""A whole small cluster in real processes (issue #6): two `papertrend serve --no-worker` web servers
and two `papertrend worker` processes on one database, a replayed upstream and a real SMTP sink.

What a deployment on several machines relies on: the scheduled ingest runs once per period whatever
the number of workers; every web server serves what the workers stored, and what one server writes
(a subscription) the other sees; each due subscriber gets exactly one digest for the edition, none
lost; and web servers started with `--no-worker` never run a job. Then two `digest run` processes
sending at once, which the outbox's claims (FOR UPDATE SKIP LOCKED on PostgreSQL, one writer at a
time on SQLite) exist for. On SQLite and on PostgreSQL (`pytest --db=postgres`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.digest import compose, records, repository
from papertrend.digest import subscriptions as subs
from papertrend.digest.ranking import keyword_ranker
from papertrend.digest.tables import digest_editions, subscriptions
from papertrend.ingest.tables import ingest_runs
from papertrend.leases import job_leases
from papertrend.papers.tables import papers
from tests.digest_support import SmtpSink, _Handler, add_papers, add_subscribers, at, free_port, paper
from tests.integration.helpers import wait_for
from tests.replay import ReplayServer

RSS = "arxiv_api_fixtures/rss/rss_arxiv_org_2026-04-27/arxiv_cs_ai.xml"
HF_DAY = "hf_daily_papers/samples/2026-08-21.json"
LEASE_SECONDS = 5
SUBSCRIBERS = 40
# Sent at 00:00 UTC: today's edition is due whenever the test runs, as the workers use the wall clock.
DUE_TODAY = subs.Preferences(send_hour=0, timezone="UTC")
JOB_LINE = re.compile(r"\bjob [\w-]+: ")  # what the worker logs after each job it ran
CSRF = re.compile(r'name="csrf_token"\s+value="([^"]+)"')
CLI = [sys.executable, "-c", "from papertrend.cli import main; main()"]


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink().start()
    yield server
    server.stop()


class Processes:
    """The processes one test starts, each with its own data directory (as if on its own machine)
    and log file; whatever still runs at the end is killed."""

    def __init__(self, *, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str], **env: str) -> subprocess.Popen[bytes]:
        log = (self.folder / f"{name}.log").open("wb")
        proc = subprocess.Popen(
            args,
            env={**self.env, "PAPERTREND_DATA_DIR": str(self.folder / name), **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            # A group of its own, so stop() reaches the children too (see there).
            start_new_session=True,
        )
        log.close()  # the child holds its own copy
        self.started[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.folder / f"{name}.log").read_text(errors="replace")

    def pids(self, *names: str) -> set[str]:
        return {str(self.started[n].pid) for n in names}

    def stop(self) -> None:
        # The whole group of each: `serve --workers 2` is uvicorn's supervisor, two web processes it
        # spawned and multiprocessing's resource tracker. Killing the supervisor alone left those three
        # `python -c "from multiprocessing…"` processes running after the suite (#11).
        for proc in self.started.values():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.started.values():
            proc.wait(timeout=30)
        groups = {proc.pid for proc in self.started.values()}
        wait_for("every process of the test to exit", lambda: not _in_groups(groups), timeout=10)


def _in_groups(groups: set[int]) -> list[int]:
    """The live processes (zombies aside) whose process group is one of `groups`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # gone meanwhile
                continue
            if fields[0] != "Z" and int(fields[2]) in groups:
                found.append(int(entry.name))
    return found


@pytest.fixture
def processes(
    settings: Settings, sink: SmtpSink, replay: ReplayServer, tmp_path: Path
) -> Iterator[Processes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=settings.database_url,
        PAPERTREND_SECRET_KEY=settings.secret_key,  # one secret: links made by one server open on another
        PAPERTREND_MAIL_URL=sink.url,
        PAPERTREND_MAIL_RATE="0",
        PAPERTREND_HF_BASE_URL=replay.url,
        PAPERTREND_ARXIV_RSS_URL=f"{replay.url}/rss",
        PAPERTREND_RSS_CATEGORIES='["cs.AI"]',
        PAPERTREND_EMBEDDING_MODEL="wordllama",
        PAPERTREND_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
    )
    procs = Processes(env=env, folder=tmp_path)
    yield procs
    procs.stop()


class LeaseWatch:
    """Who holds job leases and outbox claims, polled every 50 ms while the cluster runs."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.owners: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="lease-watch", daemon=True)

    def _poll(self) -> None:
        while not self._stop.wait(0.05):
            with reading(self.engine) as conn:
                for column in (job_leases.c.owner, digest_editions.c.lease_owner):
                    self.owners.update(
                        str(o) for o in conn.execute(sa.select(column).where(column.is_not(None))).scalars()
                    )

    def __enter__(self) -> LeaseWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    @property
    def pids(self) -> set[str]:
        """The process ids in the owner ids (`host:pid:nonce`, papertrend.leases.new_owner)."""
        return {o.split(":")[1] for o in self.owners}


def _runs(engine: Engine) -> dict[str, int]:
    with reading(engine) as conn:
        rows = conn.execute(sa.select(ingest_runs.c.source, sa.func.count()).group_by(ingest_runs.c.source))
        return {source: int(n) for source, n in rows}


def _statuses(engine: Engine) -> Counter[str]:
    with reading(engine) as conn:
        return Counter(conn.execute(sa.select(digest_editions.c.status)).scalars())


def _message_ids(engine: Engine) -> dict[str, str]:
    """{recipient: Message-ID} of every stored edition."""
    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(subscriptions.c.email_key, digest_editions.c.message_id).join(
                subscriptions, subscriptions.c.id == digest_editions.c.subscription_id
            )
        )
        return {str(email): str(mid) for email, mid in rows}


def _digests(sink: SmtpSink, message_ids: dict[str, str]) -> dict[str, int]:
    """{recipient: copies of their edition the sink accepted}, for every recipient of an edition."""
    wanted = set(message_ids.values())
    copies = Counter(to.lower() for r in sink.received if r.message_id in wanted for to in r.rcpt_tos)
    return {email: copies[email] for email in message_ids}


def _csrf(client: httpx.Client, page: str) -> str:
    """The CSRF token of `page`'s forms, fetched as a browser would (which sets the cookie)."""
    tokens = {str(t) for t in CSRF.findall(client.get(page).text)}
    assert len(tokens) == 1, (page, tokens)
    return tokens.pop()


def _serve(processes: Processes, name: str, *extra: str) -> str:
    port = free_port()
    processes.start(name, [*CLI, "serve", "--no-worker", "--host", "127.0.0.1", "--port", str(port), *extra])
    return f"http://127.0.0.1:{port}"


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_two_web_servers_and_two_workers_on_one_database(
    engine: Engine,
    replay: ReplayServer,
    sink: SmtpSink,
    fixture_data: Path,
    processes: Processes,
) -> None:
    today = datetime.now(UTC).date()
    # Hugging Face lists the recorded day as today's; the two days before had nothing.
    replay.add("/api/daily_papers", b"[]")
    replay.add("/api/daily_papers", fixture_data / HF_DAY, query={"date": today.isoformat()})
    replay.add("/rss/cs.AI", fixture_data / RSS)
    # Today's papers already stored, so whichever worker runs the digest first, before or after
    # the ingest, has something to send: an edition composed empty is never mailed (issue #5).
    add_papers(
        engine, [paper(f"2611.9{i:04d}", f"Stored before the ingest {i}", day=today) for i in range(1, 6)]
    )
    due = add_subscribers(engine, SUBSCRIBERS, confirmed_at=at(today - timedelta(days=2)), prefs=DUE_TODAY)

    with LeaseWatch(engine) as watch:
        # The second server is two processes sharing its port (`--workers 2`), as on a larger machine.
        web = [_serve(processes, "web1"), _serve(processes, "web2", "--workers", "2")]
        for name in ("worker1", "worker2"):
            processes.start(name, [*CLI, "worker"])
        wait_for("the web servers to answer", lambda: all(_answers(u) for u in web))

        def ingested() -> bool:
            with reading(engine) as conn:
                row = conn.execute(sa.select(job_leases).where(job_leases.c.name == "ingest")).first()
            return row is not None and row.owner is None and row.finished_at is not None

        wait_for("a worker to finish the ingest", ingested)
        ingest_done = time.monotonic()
        wait_for("every due edition to be sent", lambda: _statuses(engine) == {"sent": SUBSCRIBERS})

        with reading(engine) as conn:
            hf_ids = set(
                conn.execute(sa.select(papers.c.id).where(papers.c.hf_daily_on == today)).scalars().all()
            )
        assert len(hf_ids) == 17
        for url in web:
            home = httpx.get(f"{url}/", timeout=10)
            assert home.status_code == 200
            assert all(f"/papers/{pid}" in home.text for pid in hf_ids), url
            listed = httpx.get(f"{url}/api/daily_papers", timeout=10)
            assert listed.status_code == 200
            assert hf_ids <= {item["paper"]["id"] for item in listed.json()}, url
        _subscribe_on_one_confirm_on_the_other(web, sink)

        # The worker that did not run the ingest asks again every lease period (the one that ran it
        # waits the hour): once it has, nobody has ingested twice.
        time.sleep(max(0.0, ingest_done + LEASE_SECONDS + 1 - time.monotonic()))
        # The categories job (#14) looks up Hugging Face-only papers' categories through the arXiv
        # API once per ingest period, before or after the ingest stored them, so its run may or may
        # not be there yet (under load it was); never twice.
        runs = _runs(engine)
        assert runs.pop("arxiv-api", 0) <= 1, runs
        assert runs == {"hf-daily": 1, "arxiv-rss": 1}
        hf_days = [s.query.get("date", "") for s in replay.requests if s.path == "/api/daily_papers"]
        assert sorted(hf_days) == sorted((today - timedelta(days=d)).isoformat() for d in (2, 1, 0))
        assert sum(s.path == "/rss/cs.AI" for s in replay.requests) == 1

    # Each due subscriber: exactly one copy of their edition, none lost.
    mids = _message_ids(engine)
    assert sorted(mids) == sorted(s.email_key for s in due)
    assert _digests(sink, mids) == {s.email_key: 1 for s in due}

    # The web servers never ran a job: every lease was a worker's, and they logged no job.
    assert watch.pids, "the watch saw no lease at all"
    assert watch.pids <= processes.pids("worker1", "worker2"), watch.owners
    assert not watch.pids & processes.pids("web1", "web2")
    for name in ("web1", "web2"):
        assert not JOB_LINE.search(processes.log(name)), processes.log(name)[-3000:]
    worker_logs = processes.log("worker1") + processes.log("worker2")
    assert len(re.findall(r"\bjob ingest:", worker_logs)) == 1, worker_logs[-3000:]
    assert all(p.poll() is None for p in processes.started.values()), "a process died"


def _subscribe_on_one_confirm_on_the_other(web: list[str], sink: SmtpSink) -> None:
    """Subscribe through the first server; the confirmation link opens and confirms on the second,
    and the preferences page it leads to opens on the first again."""
    address = "newcomer@example.org"
    with (
        httpx.Client(base_url=web[0], timeout=10) as first,
        httpx.Client(base_url=web[1], timeout=10) as second,
    ):
        sent = first.post(
            "/subscribe", data={"email": address, "timezone": "UTC", "csrf_token": _csrf(first, "/subscribe")}
        )
        assert sent.status_code == 200 and "Check your inbox" in sent.text
        wait_for("the confirmation mail", lambda: address in sink.by_recipient())
        [mail] = sink.by_recipient()[address]
        text = mail.message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        link = re.search(r"https?://\S+(/subscribe/confirm/\S+)", text)
        assert link is not None
        page = second.get(link.group(1))
        assert page.status_code == 200 and "Confirm" in page.text
        confirmed = second.post(link.group(1), data={"csrf_token": _csrf(second, link.group(1))})
        assert confirmed.status_code == 303, confirmed.text[:2000]
        preferences = first.get(confirmed.headers["location"])
        assert preferences.status_code == 200 and address in preferences.text


# ------------------------------------------------------------------------------- two senders at once

SENDERS_DAY = date(2026, 6, 23)
SENDERS_NOW = at(SENDERS_DAY, 8, 30)
SENDERS_SUBSCRIBERS = 200  # two claims of outbox.CLAIM_BATCH


class _SlowHandler(_Handler):
    """Takes 20 ms over each message, as a real server does, so two senders surely overlap."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def slow_sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.handler = _SlowHandler()
    server.controller = Controller(server.handler, hostname="127.0.0.1", port=server.port)
    server.start()
    yield server
    server.stop()


def test_two_digest_runs_at_once_mail_each_subscriber_once(
    engine: Engine, slow_sink: SmtpSink, processes: Processes
) -> None:
    add_papers(
        engine, [paper(f"2606.{i:05d}", f"Paper number {i}", day=SENDERS_DAY, upvotes=i) for i in range(1, 6)]
    )
    due = add_subscribers(engine, SENDERS_SUBSCRIBERS, confirmed_at=SENDERS_NOW - timedelta(days=3))
    run = [*CLI, "digest", "run", "--mode", "keyword", "--now", SENDERS_NOW.isoformat()]
    senders = [processes.start(f"sender{i}", run, PAPERTREND_MAIL_URL=slow_sink.url) for i in (1, 2)]
    for proc in senders:
        proc.wait(timeout=60)
    logs = [processes.log(f"sender{i}") for i in (1, 2)]
    assert [p.returncode for p in senders] == [0, 0], logs
    sent = [int(m.group(1)) for log in logs if (m := re.search(r"delivery:\s+(\d+)\s+sent", log))]
    assert sum(sent) == SENDERS_SUBSCRIBERS, logs
    # Both took part (at 20 ms a message either alone would take seconds), so their claims met.
    assert len(sent) == 2 and all(n > 0 for n in sent), sent
    assert _statuses(engine) == {"sent": SENDERS_SUBSCRIBERS}
    assert _digests(slow_sink, _message_ids(engine)) == {s.email_key: 1 for s in due}
    assert len(slow_sink.received) == SENDERS_SUBSCRIBERS


def test_a_run_skips_editions_another_run_stored_after_it_read_what_was_due(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs started together each compose from where they start and skip what another stored
    meanwhile, rather than all composing everything for one of them to store it (issue #6)."""
    add_papers(engine, [paper("2606.00001", "A paper", day=SENDERS_DAY, upvotes=3)])
    add_subscribers(engine, 6, confirmed_at=SENDERS_NOW - timedelta(days=3))
    with reading(engine) as conn:
        read_before = repository.due_editions(conn=conn, now=SENDERS_NOW)
    assert len(read_before) == 6

    def run(composer: compose.Composer) -> compose.ComposeReport:
        return compose.compose_due(
            engine=engine, composer=composer, now=SENDERS_NOW, secret="s" * 32, domain="example.org"
        )

    assert run(compose.Composer(engine=engine, ranker=keyword_ranker(engine))).queued == 6
    # The second run read the due editions before the first stored them, in chunks of two.
    monkeypatch.setattr(repository, "due_editions", lambda **_: read_before)
    monkeypatch.setattr(compose, "CHUNK", 2)
    composed: list[int] = []

    class Counting(compose.Composer):
        def compose(self, *, sub: subs.Subscription, **kwargs: Any) -> records.Composed:
            composed.append(sub.id)
            return super().compose(sub=sub, **kwargs)

    report = run(Counting(engine=engine, ranker=keyword_ranker(engine)))
    assert composed == [] and report.skipped == 6 and report.queued == 0
