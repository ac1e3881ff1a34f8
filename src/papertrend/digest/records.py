"""Records the digest's rooms pass each other: an edition's papers, a claimed edition, a paper's filter text
(issue #5; one place since issue #11)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from papertrend.digest.subscriptions import Subscription


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


@dataclass(frozen=True, slots=True)
class Claimed:
    """One edition a sender holds: what it needs to render and send it."""

    id: int
    sub: Subscription
    edition_date: date
    composed: Composed
    message_id: str
    attempts: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaperText:
    """What filters look at: the words of a paper and its categories."""

    id: str
    text: str  # title and abstract, lower-cased
    categories: tuple[str, ...]
