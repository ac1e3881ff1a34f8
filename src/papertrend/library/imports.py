"""Import a library (issue #13): a BibTeX file, a Zotero export (BibTeX or CSL JSON) or a pasted list
of arXiv ids/URLs → papers saved in a collection, with a report of what happened to every entry.

    bytes ──► checks (size, binary, UTF-8) ──► references ──► plan: matched / to fetch / not arXiv
          ──► unknown ids fetched through the arXiv API source (papers land in the store)
          ──► one transaction: matched + fetched papers saved, or nothing when the collection is full

A file that is too big, binary or malformed raises BadRequest before anything changes; entries that
are not arXiv papers are listed in the report, never dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy.engine import Connection, Engine

from papertrend.db import transaction
from papertrend.errors import BadRequest
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import run_ingest
from papertrend.ingest.sources.arxiv_api import ArxivApiSource
from papertrend.library import bibtex, csl, service
from papertrend.library import repository as repo
from papertrend.library.refs import Reference, ids_in_list

# Any file of 5 MB is refused (issue #13); a 10k-entry Zotero BibTeX export is about 3 MB.
MAX_IMPORT_BYTES = 5_000_000
MAX_ENTRIES = service.MAX_COLLECTION_PAPERS
Format = Literal["bibtex", "csl-json", "ids"]
# The arXiv API source keys its resume cursor by the id list (ingest_cursors.key is 512 characters),
# and arXiv asks for modest requests: fetch unknown ids in batches this long, joined.
_BATCH_CHARS = 450

Fetcher = Callable[[Sequence[str]], None]


@dataclass
class ImportReport:
    """What an import did with every entry."""

    format: Format
    entries: int = 0
    matched: list[str] = field(default_factory=list)  # arXiv ids already stored, now saved
    fetched: list[str] = field(default_factory=list)  # fetched from arXiv, now saved
    not_found: list[str] = field(default_factory=list)  # arXiv ids arXiv did not return
    not_arxiv: list[Reference] = field(default_factory=list)  # entries naming no arXiv paper
    added: int = 0  # papers new to the collection
    collection_id: int | None = None

    def summary(self) -> str:
        """One line for the page, the CLI and logs."""
        return (
            f"{self.entries} entries ({self.format}): {len(self.matched)} already here, "
            f"{len(self.fetched)} fetched from arXiv, {len(self.not_found)} not found on arXiv, "
            f"{len(self.not_arxiv)} not arXiv papers; {self.added} added to the collection"
        )


def decode(data: bytes) -> str:
    """The text of an uploaded file; BadRequest when it is too big, binary or not UTF-8."""
    if len(data) >= MAX_IMPORT_BYTES:
        raise BadRequest(
            f"The file is {len(data) / 1e6:.1f} MB; imports must be under {MAX_IMPORT_BYTES / 1e6:.0f} MB. "
            "Nothing was imported."
        )
    if b"\x00" in data:
        raise BadRequest(
            "That is a binary file, not BibTeX, CSL JSON or a list of ids. Nothing was imported."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"The file is not UTF-8 text (byte {exc.start}); export it as UTF-8. Nothing was imported."
        ) from None
    if not text.strip():
        raise BadRequest("The file is empty. Nothing was imported.")
    return text


def detect(text: str) -> Format:
    """Which of the three formats a text is: JSON first, then any @entry, else a list of ids."""
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        return "csl-json"
    if "@" in text and any(line.lstrip().startswith("@") for line in text.splitlines()):
        return "bibtex"
    return "ids"


def parse(data: bytes) -> tuple[Format, list[Reference]]:
    """The references of an uploaded file or pasted text; BadRequest for anything unreadable."""
    text = decode(data)
    kind = detect(text)
    refs = (
        bibtex.parse(text)
        if kind == "bibtex"
        else csl.parse(text)
        if kind == "csl-json"
        else list(ids_in_list(text))
    )
    if len(refs) > MAX_ENTRIES:
        raise BadRequest(
            f"The file has {len(refs):,} entries; at most {MAX_ENTRIES:,}. Nothing was imported."
        )
    if not refs:
        raise BadRequest(f"No entries found in this {kind} file. Nothing was imported.")
    return kind, refs


def plan(
    *, conn: Connection, kind: Format, refs: Sequence[Reference]
) -> tuple[ImportReport, dict[str, int], list[str]]:
    """Sort references into stored papers (id → pk), ids to fetch, and entries that are not arXiv."""
    report = ImportReport(format=kind, entries=len(refs))
    keys = list(dict.fromkeys(r.arxiv_id.key for r in refs if r.arxiv_id is not None))
    stored = repo.pks_for_ids(conn=conn, paper_ids=keys)
    report.matched = [k for k in keys if k in stored]
    report.not_arxiv = [r for r in refs if r.arxiv_id is None]
    return report, stored, [k for k in keys if k not in stored]


def arxiv_fetcher(*, engine: Engine, client: PoliteClient, base_url: str) -> Fetcher:
    """A fetcher that ingests ids through the arXiv API source, in batches (source errors are logged
    by run_ingest; ids that do not arrive are reported as not found)."""

    def fetch(ids: Sequence[str]) -> None:
        batch: list[str] = []
        for key in [*ids, None]:
            if key is not None and len(",".join([*batch, key])) <= _BATCH_CHARS:
                batch.append(key)
                continue
            if batch:
                source = ArxivApiSource(
                    client=client,
                    base_url=base_url,
                    id_list=batch,
                    page_size=len(batch),
                    max_results=len(batch),
                )
                run_ingest(engine=engine, source=source)
            batch = [key] if key is not None else []

    return fetch


def import_library(
    *,
    engine: Engine,
    user_id: int,
    data: bytes,
    collection_id: int | None,
    fetch: Fetcher | None,
    now: datetime,
) -> ImportReport:
    """Import a file into one of the user's collections ("Saved" when None) and report every entry.

    Nothing in the library changes unless every check passes; papers fetched from arXiv stay in the
    store either way (they are shared, like any ingested paper).
    """
    kind, refs = parse(data)
    with transaction(engine) as conn:
        if collection_id is not None:
            service.collection(conn=conn, user_id=user_id, collection_id=collection_id)
        report, stored, unknown = plan(conn=conn, kind=kind, refs=refs)
    if unknown and fetch is not None:
        fetch(unknown)
    with transaction(engine) as conn:
        arrived = repo.pks_for_ids(conn=conn, paper_ids=unknown) if unknown else {}
        report.fetched = [k for k in unknown if k in arrived]
        report.not_found = [k for k in unknown if k not in arrived]
        pks = [stored[k] for k in report.matched] + [arrived[k] for k in report.fetched]
        if pks:
            target, report.added = service.save_many(
                conn=conn, user_id=user_id, paper_pks=pks, collection_id=collection_id, now=now
            )
            report.collection_id = target.id
    return report
