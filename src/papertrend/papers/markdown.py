"""A paper as markdown, for agents and tools (issue #16): what `/papers/{id}.md` and `get_paper` answer.

Pure functions: the caller reads the paper and its similar papers, these only write text. The layout
follows Hugging Face's per-paper markdown: a title heading, then metadata lines, the abstract, and
sections for what was imported (the machine summary and keywords) and for similar papers.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from urllib.parse import urlsplit

from papertrend.papers.models import Paper

# Similar papers listed: as many as the paper page shows (web/pages.py), in /papers/{id}.md and get_paper.
SIMILAR_PAPERS = 8
# Characters markdown gives a meaning to at the start of a line or inside a link text.
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>#|])")


def md_escape(text: str) -> str:
    """Text on one line with markdown's markup characters escaped (titles, names come from sources)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(text.split()))


def http_url(url: str | None) -> str | None:
    """The URL if it is http(s) and has no characters that would end a markdown link; else None."""
    if not url:
        return None
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https") or any(c in url for c in " ()<>\n\r\t"):
        return None
    return url


def paper_links(p: Paper, *, base_url: str) -> list[tuple[str, str]]:
    """(label, URL) pairs for a paper: its page here, arXiv, the PDF, code and project page when known."""
    links = [
        ("Papertrend", f"{base_url.rstrip('/')}/papers/{p.id}"),
        ("arXiv", p.abs_url),
        ("PDF", http_url(p.pdf_url) or f"https://arxiv.org/pdf/{p.id}"),
    ]
    for label, url in (("Code", http_url(p.code_url)), ("Project page", http_url(p.project_url))):
        if url:
            links.append((label, url))
    return links


def paper_markdown(p: Paper, *, similar: Sequence[Paper], base_url: str) -> str:
    """The whole paper as markdown: title, authors, dates, links, abstract, imported summary, similar."""
    lines = [f"# {md_escape(p.title)}", ""]
    meta: list[str] = []
    if p.authors:
        meta.append("**Authors:** " + ", ".join(md_escape(a) for a in p.authors))
    meta.append(f"**arXiv id:** {p.id}" + (f" (v{p.version})" if p.version else ""))
    if p.published_at:
        meta.append(f"**Published:** {p.published_at.date().isoformat()}")
    if p.updated_at and (not p.published_at or p.updated_at.date() != p.published_at.date()):
        meta.append(f"**Updated:** {p.updated_at.date().isoformat()}")
    if p.listing_day:
        meta.append(f"**Listed:** {p.listing_day.isoformat()}")
    if p.categories:
        meta.append("**Categories:** " + ", ".join(md_escape(c) for c in p.categories))
    meta.append(f"**Upvotes:** {p.votes}")
    if p.github_stars is not None:
        meta.append(f"**GitHub stars:** {p.github_stars}")
    links = paper_links(p, base_url=base_url)
    meta.append("**Links:** " + " · ".join(f"[{label}]({url})" for label, url in links))
    lines += [f"- {m}" for m in meta]
    lines += ["", "## Abstract", "", " ".join(p.abstract.split()) or "(no abstract)"]
    if p.hf_ai_summary:
        summary = " ".join(p.hf_ai_summary.split())
        lines += ["", "## Summary (machine-written, from Hugging Face)", "", summary]
    if p.hf_ai_keywords:
        lines += ["", "## Keywords", "", ", ".join(md_escape(k) for k in p.hf_ai_keywords)]
    if p.comment:
        lines += ["", "## Comment", "", " ".join(p.comment.split())]
    if similar:
        lines += ["", "## Similar papers", ""]
        base = base_url.rstrip("/")
        lines += [
            f"- [{md_escape(s.title)}]({base}/papers/{s.id}.md) ({s.id}"
            + (f", {s.listing_day.isoformat()}" if s.listing_day else "")
            + ")"
            for s in similar
        ]
    return "\n".join(lines) + "\n"
