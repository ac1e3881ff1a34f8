"""The "For you" page's latency (issue #13): p50/p95 of GET /for-you for a reader with a
`--library`-paper library and a followed author, on a stored database (bench/digest.py's 85k store
by default), through the whole app in-process (routing, session, ranking, template).

    .venv/bin/python bench/foryou_page.py [--db var/bench/digest-85k/bench.db] [--library 200]
                                          [--interest diffusion] [--model wordllama] [--requests 60]
                                          [--until 2026-06-30]

`--until DAY` measures on a copy of the store without the papers listed after DAY (made once, beside
the store): the page ranks the store's latest week, and the 85k store's latest week holds only Hugging
Face's ~100 papers (0–1 picks), where a full arXiv week (2026-06-24..30: ~3,400 papers) is what a
reader's page has to rank.

The first request (model load, the week's candidates and background read once per process and kept
for a while) is reported apart; the percentiles are of the requests after it, as readers see them.
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import anyio
import httpx
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
EMAIL = "page-bench@example.org"


def _until(db: Path, day: date) -> Path:
    """A copy of the store `db` without the papers listed after `day` (made once); its path."""
    from papertrend.db import create_engine, transaction
    from papertrend.papers.repository import listing_day_expr
    from papertrend.papers.tables import papers

    copy = db.with_name(f"{db.stem}-until-{day.isoformat()}.db")
    if copy.exists():
        return copy
    partial = copy.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(db) as source:
        source.execute("VACUUM INTO ?", (str(partial),))
    engine = create_engine(f"sqlite:///{partial}")  # foreign keys on: a paper's rows go with it
    with transaction(engine) as conn:
        gone = conn.execute(sa.delete(papers).where(listing_day_expr() > day)).rowcount
    engine.dispose()
    partial.rename(copy)
    print(f"{copy.name}: {gone:,} papers listed after {day} left out", flush=True)
    return copy


def main() -> None:
    sys.path.insert(0, str(ROOT))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", type=Path, default=ROOT / "var" / "bench" / "digest-85k" / "bench.db")
    parser.add_argument("--library", type=int, default=200)
    parser.add_argument("--interest", default="diffusion", help="the library: papers whose titles name this")
    parser.add_argument("--model", default="wordllama")
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--until", type=date.fromisoformat, help="drop the papers listed after this day")
    args = parser.parse_args()
    import logging

    logging.disable(logging.INFO)  # the app's access log would print a line a request

    from papertrend.accounts import repository as accounts_repo
    from papertrend.config import Settings
    from papertrend.db import create_engine, reading, transaction
    from papertrend.library import service
    from papertrend.migrate import upgrade
    from papertrend.papers.tables import papers
    from papertrend.security import hash_token, new_token
    from papertrend.web.app import create_app
    from papertrend.web.cookies import SESSION_COOKIE

    db = args.db if args.until is None else _until(args.db, args.until)
    url = f"sqlite:///{db}"
    engine = create_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    rng = random.Random(13)
    with reading(engine) as conn:
        ids = (
            # One reader's interest (titles naming it), not random papers: a random library is like
            # nothing in particular, clears no floor and showed 0 picks, timing an empty page.
            conn.execute(
                sa.select(papers.c.id)
                .where(papers.c.title.ilike(f"%{args.interest}%"))
                .order_by(sa.func.random())
                .limit(args.library * 5)
            )
            .scalars()
            .all()
        )
        total = conn.execute(sa.select(sa.func.count()).select_from(papers)).scalar_one()
    token = new_token()
    with transaction(engine) as conn:
        user = accounts_repo.user_for_login(conn=conn, email=EMAIL, now=now)
        for cid in [c.id for c in service.collections(conn=conn, user_id=user.id)]:
            service.delete(conn=conn, user_id=user.id, collection_id=cid)
        saved = service.default_collection(conn=conn, user_id=user.id, now=now)
        pks = service.repo.pks_for_ids(conn=conn, paper_ids=rng.sample(list(ids), args.library))
        service.save_many(
            conn=conn, user_id=user.id, paper_pks=list(pks.values()), collection_id=saved.id, now=now
        )
        accounts_repo.add_session(
            conn=conn,
            token_hash=hash_token(token),
            user_id=user.id,
            now=now,
            expires_at=now + timedelta(days=1),
        )
    settings = Settings(env="test", database_url=url, embedding_model=args.model, page_cache_seconds=0)
    app = create_app(settings, engine=engine)

    async def run() -> tuple[float, list[float], int]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", cookies={SESSION_COOKIE: token}
        ) as client:
            t0 = time.perf_counter()
            first = await client.get("/for-you")
            cold = time.perf_counter() - t0
            assert first.status_code == 200, first.text[:300]
            times = []
            for _ in range(args.requests):
                t0 = time.perf_counter()
                response = await client.get("/for-you")
                times.append(time.perf_counter() - t0)
                assert response.status_code == 200
            return cold, times, response.text.count('class="reason"')

    cold, times, picks = anyio.run(run)
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)]
    print(f"store {total:,} papers ({args.model}); library {args.library} papers; {picks} picks shown")
    print(f"first request (model load, week's candidates and background): {cold * 1000:.0f} ms")
    print(
        f"GET /for-you over {len(times)} requests: "
        f"p50 {statistics.median(times) * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms"
    )
    engine.dispose()


if __name__ == "__main__":
    main()
