"""Rate limits under concurrency: the count is one atomic upsert, so requests cannot overshoot (#12)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from papertrend import ratelimit
from papertrend.db import transaction

NOW = datetime(2026, 8, 21, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_concurrent_requests_never_pass_more_than_the_limit(engine: Engine) -> None:
    threads, each, limit = 8, 12, 25
    key = ratelimit.rate_key("ip", "10.0.0.7")
    start = threading.Barrier(threads)
    passed: list[bool] = []
    errors: list[BaseException] = []

    def hammer() -> None:
        start.wait()
        try:
            for _ in range(each):
                with transaction(engine) as conn:
                    ok = ratelimit.allow(conn=conn, key=key, limit=limit, window=HOUR, now=NOW)
                passed.append(ok)
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    workers = [threading.Thread(target=hammer) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert not errors, errors
    assert len(passed) == threads * each
    assert passed.count(True) == limit


def test_a_new_window_starts_from_one(engine: Engine) -> None:
    key = ratelimit.rate_key("addr", "ada@example.org")
    with transaction(engine) as conn:
        assert [ratelimit.allow(conn=conn, key=key, limit=2, window=HOUR, now=NOW) for _ in range(4)] == [
            True,
            True,
            False,
            False,
        ]
        # Refused events were counted, yet the next window allows `limit` again, starting now.
        later = NOW + HOUR
        assert [ratelimit.allow(conn=conn, key=key, limit=2, window=HOUR, now=later) for _ in range(3)] == [
            True,
            True,
            False,
        ]
        # Just before that window ends it still refuses.
        assert not ratelimit.allow(conn=conn, key=key, limit=2, window=HOUR, now=later + HOUR / 2)
        assert ratelimit.allow(conn=conn, key=key, limit=2, window=HOUR, now=later + HOUR)
