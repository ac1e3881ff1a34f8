"""PostgreSQL restarts under load (issue #6, item 5): requests fail fast with 503 and recover by
themselves; a digest run cut off by the restart resumes with no duplicate and no loss.

The server restarted here is a cluster of this module's own, never the session's shared one, which
other tests are using at the same time.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import PG_CONNECT_TIMEOUT_S, create_engine, reading
from papertrend.digest.tables import digest_editions
from papertrend.web.app import create_app
from tests.digest_support import SmtpSink, add_papers, add_subscribers, at, paper
from tests.integration.web_support import Web
from tests.pgcluster import Cluster

pytestmark = pytest.mark.postgres_only

DAY = date(2026, 6, 23)
NOW = at(DAY, 8, 30)
PAPER = "2606.00001"


class Server:
    """Stop and start the postmaster of a cluster started by tests/pgcluster.py, same port and data."""

    def __init__(self, cluster: Cluster) -> None:
        assert cluster.datadir is not None and cluster.bindir is not None, "needs a cluster of our own"
        self.cluster = cluster
        self.datadir = cluster.datadir

    def _pg_ctl(self, *args: str) -> None:
        assert self.cluster.bindir is not None
        cmd = [str(self.cluster.bindir / "pg_ctl"), "-D", str(self.datadir / "data"), *args]
        if self.cluster.user:
            cmd = ["runuser", "-u", self.cluster.user, "--", *cmd]
        subprocess.run(cmd, check=True, capture_output=True, timeout=90)

    def stop(self) -> None:
        # "fast": what a restart does — open connections are terminated, not waited for.
        self._pg_ctl("-m", "fast", "-w", "stop")

    def start(self) -> None:
        port = self.cluster.admin_url.port
        options = f"-h 127.0.0.1 -p {port} -k {self.datadir} -c fsync=off -c max_connections=100"
        self._pg_ctl("-l", str(self.datadir / "server.log"), "-w", "-t", "60", "-o", options, "start")


@pytest.fixture(scope="module")
def own_cluster(pg_cluster: Cluster | None) -> Iterator[Cluster]:
    """A PostgreSQL cluster for this module alone (`pg_cluster` only asks for `--db=postgres`)."""
    assert pg_cluster is not None
    cluster = Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def server(own_cluster: Cluster) -> Iterator[Server]:
    srv = Server(own_cluster)
    yield srv
    with contextlib.suppress(subprocess.CalledProcessError):  # already running
        srv.start()  # a failed test must not leave the next one without a server


@pytest.fixture
def own_engine(own_cluster: Cluster) -> Iterator[Engine]:
    engine = create_engine(own_cluster.create_database())
    yield engine
    engine.dispose()


def test_requests_fail_fast_with_503_during_a_restart_and_recover(
    server: Server, own_engine: Engine, settings: Settings
) -> None:
    add_papers(own_engine, [paper(PAPER, "A paper to read during the outage", day=DAY, upvotes=3)])
    app = create_app(settings, engine=own_engine, clock=lambda: NOW)
    assert Web(app).get(f"/api/papers/{PAPER}").status_code == 200

    seen: list[tuple[float, float, int, str | None]] = []  # (started, seconds, status, Retry-After)
    lock = threading.Lock()
    done = threading.Event()

    def load() -> None:
        web = Web(app)
        while not done.is_set():
            started = time.monotonic()
            response = web.get(f"/api/papers/{PAPER}")
            took = time.monotonic() - started
            with lock:
                seen.append((started, took, response.status_code, response.headers.get("retry-after")))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    try:
        time.sleep(0.5)
        server.stop()
        down = time.monotonic()
        time.sleep(1.5)
        # People get a page, API clients JSON; both say when to come back.
        page = Web(app).get("/", headers={"accept": "text/html"})
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "Temporarily unavailable" in page.text
        api = Web(app).get(f"/api/papers/{PAPER}", headers={"accept": "application/json"})
        assert api.status_code == 503 and api.json()["status"] == 503
        server.start()
        up = time.monotonic()
        time.sleep(1.0)
    finally:
        done.set()
        for w in workers:
            w.join(30)

    statuses = {status for _, _, status, _ in seen}
    assert statuses == {200, 503}, statuses  # never a 500, never a hang
    during = [s for started, _, s, _ in seen if down + 0.2 < started < up - 0.2]
    assert during and set(during) == {503}
    assert all(retry == "5" for _, _, status, retry in seen if status == 503)
    assert max(seconds for _, seconds, _, _ in seen) < PG_CONNECT_TIMEOUT_S
    # Recovered by itself: the same app, the same pool, no restart of ours.
    after = [s for started, _, s, _ in seen if started > up + 0.3]
    assert after and set(after) == {200}


N = 150  # more than one claim (outbox.CLAIM_BATCH = 100)


def _digest_run(url: str, settings: Settings, sink: SmtpSink, now: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERTREND_TEST_")}
    env.update(
        PAPERTREND_ENV="test",
        PAPERTREND_DATABASE_URL=url,
        PAPERTREND_DATA_DIR=str(settings.data_dir),
        PAPERTREND_MAIL_URL=sink.url,
        PAPERTREND_MAIL_RATE="50",  # three seconds for 150 messages: time to stop the server mid-run
    )
    cmd = [sys.executable, "-m", "papertrend.digest.cli", "run", "--now", now, "--mode", "keyword"]
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_a_digest_run_cut_off_by_a_restart_resumes_without_duplicates_or_loss(
    server: Server, own_engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    add_papers(
        own_engine, [paper(f"2606.{i:05d}", f"Paper number {i}", day=DAY, upvotes=i) for i in range(1, 6)]
    )
    subs = add_subscribers(own_engine, N, confirmed_at=NOW - timedelta(days=3))
    url = own_engine.url.render_as_string(hide_password=False)
    sink = SmtpSink().start()
    try:
        first = _digest_run(url, settings, sink, NOW.isoformat())
        deadline = time.monotonic() + 60
        while len(sink.received) < 10:
            assert first.poll() is None, "the run ended before the restart"
            assert time.monotonic() < deadline, "no mail from the first run"
            time.sleep(0.01)
        server.stop()
        _, err = first.communicate(timeout=60)
        cut_at = len(sink.received)
        # The first claim (100) was in hand and is sent from memory; recording it and claiming the rest
        # needed the database.
        assert first.returncode != 0 and cut_at < N, (cut_at, first.returncode, err.decode()[-2000:])
        assert "OperationalError" in err.decode()
        server.start()
        second = _digest_run(url, settings, sink, (NOW + timedelta(minutes=5)).isoformat())
        _, err2 = second.communicate(timeout=120)
        assert second.returncode == 0, err2.decode()[-3000:]
    finally:
        sink.stop()

    with reading(own_engine) as conn:
        rows = conn.execute(sa.select(digest_editions.c.status, digest_editions.c.message_id)).all()
    assert len(rows) == N and {r.status for r in rows} == {"sent"}, (first.returncode, err.decode()[-2000:])
    received = sink.by_recipient()
    assert sorted(received) == sorted(s.email.lower() for s in subs)
    duplicates = {to: len(msgs) for to, msgs in received.items() if len(msgs) != 1}
    assert duplicates == {}, f"cut off after {cut_at}: {duplicates}"
    assert {m.message_id for m in sink.received} == {r.message_id for r in rows}
