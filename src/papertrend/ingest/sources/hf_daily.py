"""`hf-daily`: Hugging Face Daily Papers, from the API or from saved responses (issue #2).

The API (`/api/daily_papers?date=YYYY-MM-DD`, also `week=YYYY-Www`, `month=YYYY-MM`) returns a JSON
list of items `{paper: {...}, numComments, publishedAt, ...}`. Its schema drifted from 2024 to 2026
(tests/fixtures/hf_daily_papers holds days of each year): every field beyond id and title is optional.
Hugging Face is not authoritative for bibliographic fields; it brings upvotes, comments, the GitHub
repo and stars, the project page, AI keywords and summary, the day a paper was on the page and who
put it there.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from papertrend.errors import SourceError
from papertrend.ingest.base import (
    Cursor,
    Parsed,
    RawBatch,
    check_id,
    clean_text,
    iso_datetime,
    register_source,
)
from papertrend.ingest.http import PoliteClient
from papertrend.papers.models import PaperIn, Rejected

NAME = "hf-daily"
PAGE_LIMIT = 100
_DAY_IN_NAME = re.compile(r"(\d{4}-\d{2}-\d{2})")


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _str_or_none(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


# What is kept of Hugging Face's user object for `submittedOnDailyBy` (#16): the fields its client
# library reads (huggingface_hub's `User`: user, fullname, avatarUrl, isPro, type), by type.
_SUBMITTER_TEXT = ("user", "fullname", "avatarUrl", "type")


def submitter(value: Any) -> dict[str, str | bool] | None:
    """Who put a paper on the daily page, as Hugging Face's user object; None without a user name."""
    if not isinstance(value, dict) or not _str_or_none(value.get("user")):
        return None
    kept: dict[str, str | bool] = {
        k: v.strip()[:300] for k in _SUBMITTER_TEXT if (v := _str_or_none(value.get(k)))
    }
    avatar = kept.get("avatarUrl")
    if isinstance(avatar, str) and avatar.startswith("/") and not avatar.startswith("//"):
        kept["avatarUrl"] = f"https://huggingface.co{avatar}"  # 2024 items give a path on their site
    elif isinstance(avatar, str) and not avatar.startswith("https://"):
        del kept["avatarUrl"]
    if isinstance(value.get("isPro"), bool):
        kept["isPro"] = value["isPro"]
    return kept


def items_of(payload: Any) -> list[Any]:
    """The list of items in a response: a bare list, or one wrapped in {"data"|"papers": [...]}."""
    if isinstance(payload, list):
        return payload
    if isinstance(payload, dict):
        for key in ("papers", "data"):
            if isinstance(payload.get(key), list):
                return list(payload[key])
    raise SourceError("not a Hugging Face daily papers response (expected a JSON list of items)")


def item_to_paper(item: Any, *, day: date | None, where: str, parsed: Parsed) -> PaperIn | None:
    """One API item → PaperIn (non-authoritative), or a rejection noted in `parsed`."""
    if not isinstance(item, dict):
        parsed.rejected.append(Rejected(NAME, where, "item is not a JSON object"))
        return None
    nested = item.get("paper")
    paper: dict[str, Any] = nested if isinstance(nested, dict) else {}
    arxiv_id = check_id(paper.get("id") or item.get("id"), source=NAME, record=where, parsed=parsed)
    if arxiv_id is None:
        return None
    title = clean_text(paper.get("title") or item.get("title"))
    if not title:
        parsed.rejected.append(Rejected(NAME, where, f"{arxiv_id.key}: missing title"))
        return None
    authors = [
        clean_text(a.get("name"))
        for a in paper.get("authors") or []
        if isinstance(a, dict) and a.get("name") and not a.get("hidden")
    ]
    # 2024 items lack paper.submittedOnDailyAt; their top-level publishedAt is when they were put on
    # the daily page.
    submitted = iso_datetime(paper.get("submittedOnDailyAt")) or iso_datetime(item.get("publishedAt"))
    keywords = paper.get("ai_keywords")
    return PaperIn(
        id=arxiv_id.key,
        title=title,
        source=NAME,
        authoritative=False,
        abstract=clean_text(paper.get("summary") or item.get("summary")),
        authors=authors,
        published_at=iso_datetime(paper.get("publishedAt")),
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id.key}",
        code_url=_str_or_none(paper.get("githubRepo")),
        project_url=_str_or_none(paper.get("projectPage")),
        hf_upvotes=_int_or_none(paper.get("upvotes")),
        hf_comments=_int_or_none(item.get("numComments")),
        hf_daily_on=day or (submitted.date() if submitted else None),
        hf_submitted_at=submitted,
        hf_ai_summary=_str_or_none(paper.get("ai_summary")),
        hf_ai_keywords=[k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else None,
        hf_submitted_by=submitter(paper.get("submittedOnDailyBy")) or submitter(item.get("submittedBy")),
        github_stars=_int_or_none(paper.get("githubStars")),
    )


def parse_items(items: list[Any], *, day: date | None, origin: str) -> Parsed:
    """Items of one response (or one saved day) → papers and rejections."""
    parsed = Parsed()
    for n, item in enumerate(items, start=1):
        paper = item_to_paper(item, day=day, where=f"{origin}#{n}", parsed=parsed)
        if paper is not None:
            parsed.papers.append(paper)
    return parsed


def days_between(start: date, end: date) -> list[date]:
    """Every day from start to end inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


@register_source(NAME)
class HfDailySource:
    """Fetch days (each a batch whose cursor is that day), a week or a month, or read saved files.

    Payloads are `(day | None, items)`: the day the items were on the daily page when known.
    """

    name = NAME

    def __init__(
        self,
        *,
        client: PoliteClient | None = None,
        base_url: str = "https://huggingface.co",
        days: list[date] | None = None,
        week: str | None = None,
        month: str | None = None,
        from_file: str | Path | None = None,
    ) -> None:
        chosen = sum(x is not None for x in (days, week, month, from_file))
        if chosen != 1:
            raise ValueError("give exactly one of days, week, month or from_file")
        if from_file is None and client is None:
            raise ValueError("fetching from the API needs a client")
        self.client = client
        self.base_url = base_url.rstrip("/")
        self.days = days
        self.week = week
        self.month = month
        self.from_file = Path(from_file) if from_file is not None else None
        # Saved files are re-read whole each time (idempotent); API days keep their cursor.
        self.forget_cursor_when_done = self.from_file is not None

    def cursor_key(self) -> str:
        if self.from_file is not None:
            return str(self.from_file.resolve())
        return "daily"

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        if self.from_file is not None:
            yield from self._read_file(cursor)
        elif self.days is not None:
            for day in self.days:
                yield RawBatch(
                    (day, self._get({"date": day.isoformat()})),
                    f"daily_papers?date={day}",
                    {"date": day.isoformat()},
                )
        else:
            key, value = ("week", self.week) if self.week else ("month", self.month)
            page = 0
            while True:
                items = self._get({key: str(value), "p": str(page), "limit": str(PAGE_LIMIT)})
                yield RawBatch((None, items), f"daily_papers?{key}={value}&p={page}", None)
                if len(items) < PAGE_LIMIT:
                    break
                page += 1

    def _get(self, params: dict[str, str]) -> list[Any]:
        assert self.client is not None
        resp = self.client.get(f"{self.base_url}/api/daily_papers", params=params)
        try:
            return items_of(orjson.loads(resp.content))
        except orjson.JSONDecodeError as exc:
            raise SourceError(f"{resp.request.url}: malformed JSON ({exc})") from exc
        except SourceError as exc:
            raise SourceError(f"{resp.request.url}: {exc.message}") from exc

    def _read_file(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        path = self.from_file
        assert path is not None
        if not path.is_file():
            raise SourceError(f"{path}: no such file")
        done = int(cursor.get("line", 0)) if cursor else 0
        try:
            with path.open("rb") as probe:
                gz = probe.read(2) == b"\x1f\x8b"
            with gzip.open(path, "rb") if gz else path.open("rb") as fh:
                if path.name.endswith((".jsonl", ".jsonl.gz")):
                    # One saved day per line: {"date": "YYYY-MM-DD", "papers": [...]}.
                    for lineno, line in enumerate(fh, start=1):
                        if lineno <= done or not line.strip():
                            continue
                        try:
                            record = orjson.loads(line)
                            day = date.fromisoformat(record["date"])
                            items = items_of(record)
                        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, SourceError) as exc:
                            raise SourceError(f"{path}:{lineno}: not a saved day ({exc})") from exc
                        yield RawBatch((day, items), f"{path.name}:{lineno}", {"line": lineno})
                else:
                    try:
                        items = items_of(orjson.loads(fh.read()))
                    except orjson.JSONDecodeError as exc:
                        raise SourceError(f"{path}: malformed JSON ({exc})") from exc
                    m = _DAY_IN_NAME.search(path.name)
                    named_day = date.fromisoformat(m.group(1)) if m else None
                    yield RawBatch((named_day, items), path.name, {"line": 1})
        except (OSError, EOFError) as exc:
            raise SourceError(f"{path}: unreadable ({exc})") from exc

    def parse(self, raw: RawBatch) -> Parsed:
        day, items = raw.payload
        return parse_items(items, day=day, origin=raw.origin)
