"""CSL JSON in and out (issue #13): what Zotero, Mendeley and pandoc exchange.

The writer emits arXiv papers as Zotero does: type "article", number "arXiv:<id>", publisher "arXiv",
the 10.48550 DOI and the abs URL, so a round trip through Zotero keeps the id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from papertrend.errors import BadRequest
from papertrend.library.refs import Reference, arxiv_id_of
from papertrend.papers.models import Paper


def parse(text: str) -> list[Reference]:
    """The items of a CSL JSON file (a list, or one item); BadRequest when it is not CSL JSON."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"This JSON file could not be read ({exc}). Nothing was imported.") from None
    items = data if isinstance(data, list) else [data]
    out = []
    for number, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise BadRequest(f"Item {number} of this CSL JSON file is not an object. Nothing was imported.")
        fields = {str(k).lower(): v for k, v in item.items() if isinstance(v, str)}
        title = fields.get("title")
        where = f"item {number}" + (f" ({fields['id']})" if fields.get("id") else "")
        out.append(Reference(where, " ".join(title.split())[:300] if title else None, arxiv_id_of(fields)))
    return out


def _name(author: str) -> dict[str, str]:
    parts = author.split()
    if len(parts) < 2:
        return {"literal": author}
    return {"family": parts[-1], "given": " ".join(parts[:-1])}


def item(paper: Paper, *, key: str) -> dict[str, Any]:
    """One paper as a CSL JSON item."""
    out: dict[str, Any] = {
        "id": key,
        "type": "article",
        "title": paper.title,
        "author": [_name(a) for a in paper.authors],
        "abstract": paper.abstract or None,
        "number": f"arXiv:{paper.id}",
        "publisher": "arXiv",
        "DOI": paper.doi or f"10.48550/arXiv.{paper.id}",
        "URL": paper.abs_url,
    }
    when = paper.published_at or paper.listed_on
    if when:
        out["issued"] = {"date-parts": [[when.year, when.month, when.day]]}
    return {k: v for k, v in out.items() if v is not None}


def dumps(papers: Sequence[Paper]) -> str:
    """Papers as a CSL JSON file (keys as in the BibTeX export, so both files cite alike)."""
    from papertrend.library.bibtex import cite_key

    return orjson.dumps([item(p, key=cite_key(p)) for p in papers], option=orjson.OPT_INDENT_2).decode()
