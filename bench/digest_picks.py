"""Compare the "For you" picks and stored editions of two bench/digest.py runs (`--picks FILE`):
a change that makes the digest faster must leave every subscriber's picks as they were.

    .venv/bin/python bench/digest_picks.py BEFORE.json AFTER.json

Prints the subscribers whose picks (paper id and reason, in order) or edition differ, and ends with
a `key=value` line; exits 1 when any differ.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from papertrend.digest.foryou import LibraryRecommender
from papertrend.digest.records import Subscription


@dataclass
class Recording(LibraryRecommender):
    """The library recommender, keeping every subscriber's picks (address → (id, reason) pairs)."""

    recorded: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def picks(
        self, *, sub: Subscription, since: date, sent: frozenset[str] | set[str], limit: int
    ) -> list[tuple[str, str]]:
        """The recommender's picks, recorded."""
        found = super().picks(sub=sub, since=since, sent=sent, limit=limit)
        self.recorded[sub.email] = found
        return found


def write_picks(path: Path, engine: Any, recorded: dict[str, list[tuple[str, str]]]) -> None:
    """Every subscriber's recorded picks and stored edition (its papers), as JSON."""
    from papertrend.db import reading
    from papertrend.digest.tables import digest_editions, subscriptions

    with reading(engine) as conn:
        rows = conn.execute(
            sa.select(subscriptions.c.email, digest_editions.c.papers).join(
                digest_editions, digest_editions.c.subscription_id == subscriptions.c.id
            )
        ).all()
    editions = {str(email): papers for email, papers in rows}
    out = {
        email: {"picks": [list(p) for p in recorded.get(email, [])], "edition": editions.get(email)}
        for email in sorted(set(recorded) | set(editions))
    }
    path.write_text(json.dumps(out, indent=0, sort_keys=True))
    print(f"picks of {len(out):,} subscribers written to {path}")


def main() -> None:
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    before, after = (json.loads(Path(p).read_text()) for p in sys.argv[1:])
    picks = editions = 0
    for email in sorted(set(before) | set(after)):
        a, b = before.get(email, {}), after.get(email, {})
        if a.get("picks") != b.get("picks"):
            picks += 1
            if picks <= 5:
                print(f"{email}: picks differ\n  before {a.get('picks')}\n  after  {b.get('picks')}")
        if a.get("edition") != b.get("edition"):
            editions += 1
            if editions <= 5:
                print(f"{email}: edition differs\n  before {a.get('edition')}\n  after  {b.get('edition')}")
    total = len(set(before) | set(after))
    with_picks = sum(bool(v.get("picks")) for v in after.values())
    print(f"subscribers={total} with_picks={with_picks} picks_differ={picks} editions_differ={editions}")
    if picks or editions:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
