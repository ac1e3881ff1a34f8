"""Embedding as shared work (issue #15): processes claim disjoint batches, a killed one's batch is taken
over, and no paper is embedded twice. Real processes and the real (fast) model, on SQLite or PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import reading, transaction
from papertrend.search import claims
from papertrend.search.embed_job import embed_missing
from papertrend.search.tables import embed_claims, embeddings
from tests.digest_support import add_papers, paper
from tests.integration.helpers import wait_for

MODEL = "wordllama"
NOW = datetime(2026, 5, 1, tzinfo=UTC)
LEASE = timedelta(minutes=10)


def _papers(engine: Engine, n: int) -> None:
    add_papers(
        engine,
        (
            paper(
                f"2605.{i:05d}",
                f"Paper {i} on topic {i % 17}",
                day=date(2026, 5, 1),
                abstract=f"Text {i}. " * 20,
            )
            for i in range(1, n + 1)
        ),
        now=NOW,
    )


def _claim(engine: Engine, owner: str, limit: int, now: datetime = NOW) -> list[int]:
    with transaction(engine) as conn:
        return [
            pk
            for pk, _, _ in claims.claim(
                conn=conn, model=MODEL, owner=owner, limit=limit, now=now, lease=LEASE
            )
        ]


def _dead_owner() -> str:
    """An owner id on this host whose process has exited."""
    done = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    return f"{os.uname().nodename}:{done.stdout.strip()}:dead"


def test_claims_are_disjoint_and_a_dead_or_expired_holder_is_taken_over(engine: Engine) -> None:
    _papers(engine, 10)
    first = _claim(engine, "elsewhere:1:a", 4)
    second = _claim(engine, "elsewhere:2:b", 4)
    assert len(first) == 4 and len(second) == 4 and not set(first) & set(second)
    # A live holder on another host keeps its papers until its lease runs out.
    assert set(_claim(engine, "elsewhere:3:c", 10)).isdisjoint(first + second)
    assert _claim(engine, "elsewhere:4:d", 10) == []
    assert sorted(_claim(engine, "elsewhere:4:d", 10, now=NOW + LEASE)) != []
    # A holder on this host whose process is gone is taken over at once.
    with transaction(engine) as conn:
        conn.execute(embed_claims.update().values(owner=_dead_owner(), lease_until=NOW + LEASE))
    assert len(_claim(engine, "elsewhere:5:e", 10)) == 10


def test_release_gives_back_only_this_owners_claims(engine: Engine) -> None:
    _papers(engine, 4)
    mine = _claim(engine, "elsewhere:1:a", 2)
    theirs = _claim(engine, "elsewhere:2:b", 2)
    with transaction(engine) as conn:
        claims.release(conn=conn, model=MODEL, owner="elsewhere:1:a", paper_pks=mine + theirs)
    with reading(engine) as conn:
        left = set(conn.execute(sa.select(embed_claims.c.paper_pk)).scalars())
    assert left == set(theirs)
    assert sorted(_claim(engine, "elsewhere:3:c", 4)) == sorted(mine)


class _FailsOnCall:
    """A model that embeds (like a real one, with unit vectors) until its `fail_on`th call raises."""

    name = MODEL
    dim = 4

    def __init__(self, fail_on: int) -> None:
        self.fail_on = fail_on
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.calls += 1
        if self.calls == self.fail_on:
            raise RuntimeError("the model failed")
        out = np.zeros((len(texts), self.dim), np.float32)
        out[:, 0] = 1.0
        return out


def test_a_failing_model_keeps_what_was_stored_and_gives_the_rest_back(engine: Engine) -> None:
    # The model runs one batch ahead of the store (embed_job): when batch 3 fails, batches 1 and 2
    # are stored and no claim is left behind for the lease to free.
    _papers(engine, 10)
    with pytest.raises(RuntimeError, match="the model failed"):
        embed_missing(engine=engine, embedder=_FailsOnCall(fail_on=3), batch_size=2)
    assert _vectors(engine) == 4
    with reading(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(embed_claims)).scalar_one() == 0
    report = embed_missing(engine=engine, embedder=_FailsOnCall(fail_on=0), batch_size=3)
    assert (report.embedded, report.remaining, _vectors(engine)) == (6, 0, 10)


def test_a_limit_stops_at_exactly_that_many(engine: Engine) -> None:
    _papers(engine, 10)
    report = embed_missing(engine=engine, embedder=_FailsOnCall(fail_on=0), batch_size=3, limit=7)
    assert (report.embedded, report.remaining, _vectors(engine)) == (7, 3, 7)


def _embed_process(settings: Settings, tmp_path: Path, name: str, batch: int) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PAPERTREND_DATABASE_URL": settings.database_url,
        "PAPERTREND_DATA_DIR": str(tmp_path),
    }
    log = (tmp_path / f"{name}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "papertrend", "embed", "--model", MODEL, "--batch-size", str(batch)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _embedded(tmp_path: Path, name: str) -> int:
    text = (tmp_path / f"{name}.log").read_text()
    found = re.search(r"(\d+) papers embedded", text)
    assert found, text
    return int(found.group(1))


def _vectors(engine: Engine) -> int:
    with reading(engine) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).select_from(embeddings).where(embeddings.c.model == MODEL)
            ).scalar_one()
        )


def test_two_processes_share_the_backlog_and_embed_no_paper_twice(
    engine: Engine, settings: Settings, tmp_path: Path
) -> None:
    # Small batches of many papers: each process works for seconds, longer than the two take to
    # start, so both get a share (600 papers in batches of 8 were done before the second started).
    _papers(engine, 2000)
    gate = engine.connect() if engine.dialect.name == "postgresql" else None
    if gate is not None:
        # On PostgreSQL both start at once, whatever the machine's load (under the SQLite suite's
        # load, one process embedded all 2,000 before the other had started): neither can record a
        # claim until both wait to, each holding its own first batch (the papers' rows are locked
        # FOR UPDATE SKIP LOCKED, so the second takes the next two).
        gate.execute(sa.text("LOCK TABLE embed_claims IN EXCLUSIVE MODE"))
    procs = [_embed_process(settings, tmp_path, name, batch=2) for name in ("a", "b")]
    try:
        if gate is not None:
            waiting = sa.text(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE c.relname = 'embed_claims' AND NOT l.granted"
            )
            with engine.connect() as look:
                wait_for("both processes to claim", lambda: look.execute(waiting).scalar_one() >= 2, 180)
            gate.rollback()
        for proc in procs:
            assert proc.wait(timeout=240) == 0
    finally:
        for proc in procs:
            proc.kill()
        if gate is not None:
            gate.close()
    done = [_embedded(tmp_path, name) for name in ("a", "b")]
    assert sum(done) == 2000, done  # no paper embedded by both
    assert min(done) > 0, done  # both took part
    assert _vectors(engine) == 2000


def test_a_killed_process_loses_nothing(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    _papers(engine, 2000)
    for round_ in range(3):
        proc = _embed_process(settings, tmp_path, f"killed{round_}", batch=4)
        try:
            before = _vectors(engine)
            wait_for("a stored batch", lambda before=before: _vectors(engine) > before, timeout=120)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        finally:
            proc.kill()
    assert _vectors(engine) < 2000  # each process was killed mid-run
    last = _embed_process(settings, tmp_path, "last", batch=64)
    assert last.wait(timeout=240) == 0
    assert _vectors(engine) == 2000
    with reading(engine) as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(embed_claims)).scalar_one() == 0
