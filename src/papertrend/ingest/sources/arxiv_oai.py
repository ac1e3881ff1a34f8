"""`arxiv-oai`: arXiv's OAI-PMH ListRecords harvest, in the `arXiv` or `arXivRaw` format (issue #2).

Paging follows resumption tokens. The cursor saved with each page holds the next token (so a crash
resumes mid-list), the `from` the harvest started with, and the newest record datestamp seen; a later
run with no token left harvests incrementally from that datestamp.

Flow control: arXiv answers 503 with Retry-After when harvested too fast; the PoliteClient honours it.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

from papertrend.errors import SourceError
from papertrend.ingest.base import (
    Cursor,
    Parsed,
    RawBatch,
    check_id,
    clean_text,
    iso_datetime,
    register_source,
    rfc2822_datetime,
    text_or_none,
)
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.sources._xml import child, child_text, children, descendants, local_name, parse_xml
from papertrend.ingest.sources.arxiv_api import first_doi
from papertrend.numbers import whole_number
from papertrend.papers.categories import arxiv_categories
from papertrend.papers.models import PaperIn, Rejected

log = logging.getLogger(__name__)

NAME = "arxiv-oai"
FORMATS = ("arXiv", "arXivRaw")
# OAI-PMH's way of saying "nothing in that range": an empty harvest, not a failure.
NO_RECORDS = "noRecordsMatch"

# Author separators in arXiv's free-text author lists: "A, B, and C", "A, B and C", "A and B".
_AUTHOR_SEP = re.compile(r",\s*(?:and\s+)?|\s+and\s+")


def split_authors(text: str) -> list[str]:
    """Split arXiv's one-string author list; commas and "and" inside parentheses (affiliations) stay."""
    # Mask parenthesised text so that its separators are not seen, then cut the original at the
    # separators found in the mask (both strings have the same length).
    masked: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth:
            ch = "x"
        masked.append(ch)
    names: list[str] = []
    pos = 0
    for m in _AUTHOR_SEP.finditer("".join(masked)):
        names.append(text[pos : m.start()])
        pos = m.end()
    names.append(text[pos:])
    return [name for name in (clean_text(n) for n in names) if name]


def _oai_error(root: ET.Element) -> tuple[str, str] | None:
    found = child(root, "error")
    if found is None:
        return None
    return found.get("code", "unknown"), clean_text("".join(found.itertext()))


@dataclass(frozen=True, slots=True)
class _Page:
    error: tuple[str, str] | None
    token: str | None
    datestamp: str | None


def _inspect(root: ET.Element) -> _Page:
    token_el = next(descendants(root, "resumptionToken"), None)
    token = (token_el.text or "").strip() if token_el is not None else ""
    stamps = [child_text(h, "datestamp") for h in descendants(root, "header")]
    return _Page(
        error=_oai_error(root), token=token or None, datestamp=max(filter(None, stamps), default=None)
    )


def _later(a: str | None, b: str | None) -> str | None:
    # ISO dates (and timestamps of one granularity) order as strings.
    return max(a, b) if a and b else a or b


@register_source(NAME)
class ArxivOaiSource:
    """ListRecords over one set (or all of arXiv), optionally within [from_date, until]."""

    name = NAME

    def __init__(
        self,
        *,
        client: PoliteClient,
        base_url: str,
        set_spec: str | None = None,
        from_date: date | None = None,
        until: date | None = None,
        metadata_prefix: str = "arXiv",
    ) -> None:
        if metadata_prefix not in FORMATS:
            raise ValueError(f"metadata_prefix must be one of {', '.join(FORMATS)}, not {metadata_prefix!r}")
        self.client = client
        self.base_url = base_url
        self.set_spec = set_spec
        self.from_date = from_date
        self.until = until
        self.metadata_prefix = metadata_prefix

    def cursor_key(self) -> str:
        key = f"{self.metadata_prefix}:{self.set_spec or '*'}"
        # A bounded backfill keeps its own cursor, so that its token or its older datestamps never
        # steer the daily incremental harvest of the same set.
        return f"{key}:until={self.until.isoformat()}" if self.until else key

    def _first_params(self, harvest_from: str | None) -> dict[str, str]:
        params = {"verb": "ListRecords", "metadataPrefix": self.metadata_prefix}
        if self.set_spec:
            params["set"] = self.set_spec
        if harvest_from:
            params["from"] = harvest_from
        if self.until:
            params["until"] = self.until.isoformat()
        return params

    def _start(self, cursor: Cursor | None) -> tuple[str | None, str | None, str | None]:
        """(token to resume, `from` of the harvest, newest datestamp already stored)."""
        explicit = self.from_date.isoformat() if self.from_date else None
        if not cursor:
            return None, explicit, None
        token, saved_from, stamp = cursor.get("token"), cursor.get("from"), cursor.get("datestamp")
        if token and (explicit is None or explicit == saved_from):
            return token, saved_from, stamp
        if explicit is None and stamp:
            # `from` is inclusive, so the last day is read again: records stamped later that same day
            # after our previous run must not be missed (re-reading is idempotent). arXiv's
            # granularity is a day, so a longer stamp is cut to its date.
            return None, str(stamp)[:10], stamp
        return None, explicit, stamp

    def fetch(self, cursor: Cursor | None) -> Iterator[RawBatch]:
        token, harvest_from, newest = self._start(cursor)
        saved_token = token
        while True:
            if token:
                params = {"verb": "ListRecords", "resumptionToken": token}
            else:
                params = self._first_params(harvest_from)
            resp = self.client.get(self.base_url, params=params)
            origin = str(resp.request.url)
            page = _inspect(parse_xml(resp.content, origin=origin, root="OAI-PMH"))
            if page.error:
                code, message = page.error
                if code == NO_RECORDS:
                    return
                if code == "badResumptionToken" and token is not None and token == saved_token:
                    # Tokens expire: one saved by a run that crashed long ago is refused. Start that
                    # harvest over from its `from`; records already stored are merged idempotently.
                    log.warning(
                        "%s: saved resumptionToken refused (%s); restarting the harvest", NAME, message
                    )
                    token = saved_token = None
                    continue
                raise SourceError(f"{origin}: OAI-PMH error {code}: {message}")
            newest = _later(newest, page.datestamp)
            yield RawBatch(
                resp.content, origin, {"token": page.token, "from": harvest_from, "datestamp": newest}
            )
            if page.token is None:
                return
            if page.token == token:
                raise SourceError(f"{origin}: the server returned the same resumptionToken again ({token})")
            token = page.token

    def parse(self, raw: RawBatch) -> Parsed:
        root = parse_xml(raw.payload, origin=raw.origin, root="OAI-PMH")
        error = _oai_error(root)
        if error:
            code, message = error
            if code == NO_RECORDS:
                return Parsed()
            raise SourceError(f"{raw.origin}: OAI-PMH error {code}: {message}")
        parsed = Parsed()
        for number, record in enumerate(descendants(root, "record"), 1):
            paper = record_to_paper(record, where=f"{raw.origin} record {number}", parsed=parsed)
            if paper is not None:
                parsed.papers.append(paper)
        return parsed


def _day(value: str) -> datetime | None:
    """arXiv format's YYYY-MM-DD dates, as midnight UTC."""
    return iso_datetime(value[:10]) if value else None


def _structured_authors(meta: ET.Element) -> list[str]:
    names = []
    for author in descendants(meta, "author"):
        parts = (child_text(author, "forenames"), child_text(author, "keyname"), child_text(author, "suffix"))
        name = " ".join(p for p in parts if p)
        # Collaboration lists carry ":" as a separator "author" (e.g. "BICEP2 Collaborations : …").
        if any(ch.isalnum() for ch in name):
            names.append(name)
    return names


def record_to_paper(record: ET.Element, *, where: str, parsed: Parsed) -> PaperIn | None:
    """One OAI <record> in either format → PaperIn; None for deleted records or a noted rejection."""
    header = child(record, "header")
    if header is not None and header.get("status") == "deleted":
        return None  # withdrawn from the repository: nothing to store, nothing wrong either
    label = child_text(header, "identifier") or where
    meta_wrap = child(record, "metadata")
    meta = next(iter(meta_wrap), None) if meta_wrap is not None else None
    if meta is None:
        parsed.rejected.append(Rejected(NAME, label, "record has no metadata"))
        return None
    fmt = local_name(meta.tag)
    if fmt not in FORMATS:
        parsed.rejected.append(Rejected(NAME, label, f"unsupported metadata format <{fmt}>"))
        return None
    arxiv_id = check_id(child_text(meta, "id") or label, source=NAME, record=label, parsed=parsed)
    if arxiv_id is None:
        return None
    title = child_text(meta, "title")
    if not title:
        parsed.rejected.append(Rejected(NAME, label, f"{arxiv_id.key}: missing title"))
        return None
    paper = PaperIn(
        id=arxiv_id.key,
        version=arxiv_id.version,
        title=title,
        source=NAME,
        abstract=child_text(meta, "abstract"),
        categories=arxiv_categories([child_text(meta, "categories")]),  # primary first
        comment=text_or_none(child_text(meta, "comments")),
        journal_ref=text_or_none(child_text(meta, "journal-ref")),
        doi=first_doi(child_text(meta, "doi")),
        license=text_or_none(child_text(meta, "license")),
        pdf_url=f"https://arxiv.org/pdf/{arxiv_id.key}",
    )
    if fmt == "arXiv":
        paper.authors = _structured_authors(meta)
        paper.published_at = _day(child_text(meta, "created"))
        # Only revised papers carry <updated>; for a v1 the last change is its creation.
        paper.updated_at = _day(child_text(meta, "updated")) or paper.published_at
    else:
        paper.authors = split_authors(child_text(meta, "authors"))
        versions = []
        for v in children(meta, "version"):
            label_v = v.get("version", "")
            number = whole_number(label_v[1:])
            versions.append((number, rfc2822_datetime(child_text(v, "date"))))
        numbers = [n for n, _ in versions if n is not None]
        if numbers:
            paper.version = max(numbers)
        dates = [d for _, d in sorted(versions, key=lambda nv: nv[0] or 0) if d is not None]
        if dates:
            paper.published_at, paper.updated_at = dates[0], dates[-1]
    return paper
