"""BibTeX in and out (issue #13), with bibtexparser v2.

Parsing never interprets TeX: `\\input`, `\\def` and other macros stay inert text, so a hostile file
can only fail to name arXiv papers. Exported entries follow arXiv's own "Export BibTeX citation"
(@misc with eprint, archivePrefix, primaryClass), which BibTeX, biblatex and Zotero read.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from bibtexparser.entrypoint import parse_string, write_string
from bibtexparser.library import Library
from bibtexparser.middlewares import default_unparse_stack
from bibtexparser.model import DuplicateBlockKeyBlock, Entry, Field

from papertrend.errors import BadRequest
from papertrend.library.refs import Reference, arxiv_id_of
from papertrend.papers.models import Paper

_BRACES = re.compile(r"[{}]")


def _plain(value: str) -> str:
    """A field value for a report: braces dropped, spaces squeezed."""
    return " ".join(_BRACES.sub("", value).split())


def parse(text: str) -> list[Reference]:
    """The entries of a BibTeX file; BadRequest, naming the line, when a block cannot be read."""
    library = parse_string(text)
    failed = [b for b in library.failed_blocks if not isinstance(b, DuplicateBlockKeyBlock)]
    if failed:
        first = failed[0]
        line = (first.start_line or 0) + 1
        what = "1 broken entry" if len(failed) == 1 else f"{len(failed)} broken entries"
        raise BadRequest(
            f"This BibTeX file could not be read: {what}, the first at line {line}. Nothing was imported."
        )
    out = []
    for entry in library.entries:
        fields = {f.key.lower(): str(f.value) for f in entry.fields}
        where = f"@{entry.entry_type}{{{entry.key}}} (line {(entry.start_line or 0) + 1})"
        title = _plain(fields["title"])[:300] if "title" in fields else None
        out.append(Reference(where, title, arxiv_id_of(fields)))
    return out


def _braced(value: str) -> str:
    """A value for `{…}`: kept as is when its braces balance (arXiv titles carry TeX), else stripped."""
    depth = 0
    for ch in value:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            break
    if depth != 0:
        value = _BRACES.sub("", value)
    return "{" + value.replace("\n", " ") + "}"


def _ascii_word(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return re.sub(r"[^A-Za-z0-9]", "", folded.encode("ascii", "ignore").decode())


def cite_key(paper: Paper) -> str:
    """A readable key: first author's surname, year and first title word (e.g. vaswani2017attention)."""
    surname = _ascii_word(paper.authors[0].split()[-1]).lower() if paper.authors else "anon"
    when = paper.published_at or paper.listed_on
    year = str(when.year) if when else ""
    words = [w for w in (_ascii_word(w).lower() for w in paper.title.split()) if len(w) > 3]
    return f"{surname or 'anon'}{year}{words[0] if words else ''}"


def entry(paper: Paper, *, key: str | None = None) -> Entry:
    """One paper as a @misc entry in arXiv's own export style."""
    when = paper.published_at or paper.listed_on
    fields = [
        Field("title", _braced(paper.title)),
        Field("author", _braced(" and ".join(paper.authors) or "Anonymous")),
        Field("year", _braced(str(when.year))) if when else None,
        Field("eprint", _braced(paper.id)),
        Field("archivePrefix", "{arXiv}"),
        Field("primaryClass", _braced(paper.primary_category)) if paper.primary_category else None,
        Field("doi", _braced(paper.doi or f"10.48550/arXiv.{paper.id}")),
        Field("url", _braced(paper.abs_url)),
    ]
    return Entry("misc", key or cite_key(paper), [f for f in fields if f is not None])


def dumps(papers: Sequence[Paper]) -> str:
    """Papers as a BibTeX file; keys made unique with a, b, c… suffixes as BibTeX users expect."""
    library = Library()
    seen: dict[str, int] = {}
    for paper in papers:
        key = cite_key(paper)
        n = seen.get(key, 0)
        seen[key] = n + 1
        library.add(entry(paper, key=key if n == 0 else f"{key}{_suffix(n)}"))
    # The library is built only to be written, so the unparse stack may change its blocks in place:
    # deep-copying them first took 1.13 s of CPU for 10,000 papers, in place 0.11 s.
    return str(write_string(library, unparse_stack=default_unparse_stack(allow_inplace_modification=True)))


def _suffix(n: int) -> str:
    out = ""
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out
