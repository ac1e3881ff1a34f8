"""Pages from Jinja2 templates: the environment, its filters and globals, and `render` (#11)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import jinja2
import markupsafe
from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.exc import SQLAlchemyError

from papertrend import __version__
from papertrend.library.service import author_key
from papertrend.papers.models import Paper, authors_short, without_bidi_controls
from papertrend.web.banner import banner_for
from papertrend.web.cookies import CSRF_FIELD, csrf_token, current_user, give_csrf_cookie
from papertrend.web.deps import get_state

TEMPLATES = Path(__file__).parent / "templates"


@jinja2.pass_context
def csrf_field(ctx: jinja2.runtime.Context) -> markupsafe.Markup:
    """The hidden CSRF input every POST form carries (web/cookies.py); one definition for all forms."""
    token = ctx.get("csrf_token", "")
    return markupsafe.Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, token)


def safe_url(url: str | None) -> str | None:
    """The URL if it is http(s); sources are not trusted to keep `javascript:` out of links."""
    if not url:
        return None
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if scheme in ("http", "https") else None


def pdf_url(p: Paper) -> str:
    """The paper's PDF on arXiv."""
    return safe_url(p.pdf_url) or f"https://arxiv.org/pdf/{p.id}"


def snippet(text: str, chars: int = 320) -> str:
    """The first `chars` characters, cut at a word."""
    text = " ".join(text.split())
    if len(text) <= chars:
        return text
    return text[:chars].rsplit(" ", 1)[0].rstrip(",.;:") + " …"


def authors_split(names: list[str], keep: int = 3, focus: str | None = None) -> tuple[list[str | None], int]:
    """The author names to show and how many more there are, as `authors_short` counts them (#13). On
    an author's page (`focus`) their own name is shown too when it falls past the first `keep`, after
    a gap (None): "V-JEPA 2.1" listed "Lorenzo Mur-Labadia, Matthew Muckley, Amir Bar and 6 more" on
    Yann LeCun's page."""
    clean = [" ".join(without_bidi_controls(n).split()) for n in names]
    if len(clean) <= keep + 1:
        return list(clean), 0
    shown: list[str | None] = list(clean[:keep])
    key = author_key(focus) if focus else None
    at = next((i for i, n in enumerate(clean) if i >= keep and author_key(n) == key), None)
    if at is not None:
        shown += [None, clean[at]] if at > keep else [clean[at]]
    return shown, len(clean) - sum(n is not None for n in shown)


def author_url(name: str) -> str:
    """The author page of a name (#13); every character but letters and digits is percent-encoded."""
    return "/authors/" + quote(name, safe="")


def query_url(path: str, **params: object) -> str:
    """`path?…` with the parameters that are not None or empty."""
    kept = {k.rstrip("_"): v for k, v in params.items() if v is not None and v != "" and v != () and v != []}
    return f"{path}?{urlencode(kept, doseq=True)}" if kept else path


@dataclass(frozen=True, slots=True)
class PageLink:
    """One entry of a pager: a page number with its address (None for the current page), or a gap."""

    label: str
    url: str | None
    current: bool = False


def page_links(*, page: int, pages: int, url_of: Callable[[int], str], around: int = 2) -> list[PageLink]:
    """Numbered links for pages 0..pages-1 shown from 1: the first, the last and `around` each side of
    `page`, with "…" for gaps, so a 6,837-paper month is a few clicks from any page (#14)."""
    if pages <= 1:
        return []
    shown = sorted({0, pages - 1, *range(max(0, page - around), min(pages, page + around + 1))})
    out: list[PageLink] = []
    for i, n in enumerate(shown):
        if i and n - shown[i - 1] > 1:
            out.append(PageLink("…", None))
        out.append(PageLink(str(n + 1), None if n == page else url_of(n), current=n == page))
    return out


def make_templates() -> jinja2.Environment:
    """Jinja2 with autoescape on for every template: all text from sources is escaped."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        authors_short=authors_short,
        authors_split=authors_split,
        snippet=snippet,
        safe_url=safe_url,
        thousands=thousands,
    )
    env.globals.update(
        author_url=author_url,
        csrf_field=csrf_field,
        pdf_url=pdf_url,
        query_url=query_url,
        version=__version__,
    )
    return env


def thousands(n: int) -> str:
    """A count as people read it: 10,000, not 10000."""
    return f"{n:,}"


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    *,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page; every page gets the search box text, its alternate links, the signed-in user,
    what the subscribe banner shows them (web/banner.py) and the CSRF token of its forms (setting the
    browser's CSRF cookie when it has none)."""
    state = get_state(request)
    try:
        user = current_user(request)
    except SQLAlchemyError:  # a page (an error page above all) still renders with the database down
        user = None
    base: dict[str, Any] = {
        "q": "",
        "alternates": [],
        "request_path": request.url.path,
        "request_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        "base_url": state.settings.base_url,
        "user": user,
        "banner": banner_for(request, user),
        "my_votes": frozenset(),
        "my_saved": frozenset(),
        "csrf_token": csrf_token(request),
    }
    html = state.templates.get_template(name).render({**base, **context})
    response = HTMLResponse(html, status_code=status, headers=headers)
    give_csrf_cookie(request, response)
    return response
