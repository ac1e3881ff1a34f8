"""`GET /papers/{id}.md`: a paper as markdown for agents and tools, as Hugging Face serves it (issue #16).

The paper page (`/papers/{id}`) answers the same text to a client whose Accept header prefers
`text/markdown` (web/pages.py asks `prefers_markdown` and delegates here).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from papertrend.errors import NotFound
from papertrend.papers import listings, repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.markdown import SIMILAR_PAPERS, paper_markdown
from papertrend.web.deps import ConnDep, StateDep

router = APIRouter()

MEDIA_TYPE = "text/markdown; charset=utf-8"


def _weights(accept: str) -> dict[str, float]:
    """Media types of an Accept header and their q values (a malformed q counts as 0)."""
    out: dict[str, float] = {}
    for part in accept.split(","):
        name, *params = (p.strip() for p in part.split(";"))
        q = 1.0
        for param in params:
            if param.lower().startswith("q="):
                try:
                    q = max(0.0, min(1.0, float(param[2:])))
                except ValueError:
                    q = 0.0
        if name:
            out[name.lower()] = max(q, out.get(name.lower(), 0.0))
    return out


def prefers_markdown(request: Request) -> bool:
    """Whether the client asks for text/markdown at least as much as for HTML."""
    weights = _weights(request.headers.get("accept", "")[:1000])
    markdown = weights.get("text/markdown", 0.0)
    return markdown > 0 and markdown >= weights.get("text/html", 0.0)


def markdown_response(*, conn: ConnDep, state: StateDep, key: str) -> Response:
    """The stored paper `key` as markdown, with its similar papers; NotFound when it is not stored."""
    paper = repository.get(conn=conn, paper_id=key)
    if paper is None:
        raise NotFound(
            f"No paper {key} is stored here yet; it may be on arXiv at https://arxiv.org/abs/{key}"
        )
    similar = []
    # Only papers with a vector have neighbours; checking first keeps the model unloaded otherwise.
    if listings.has_vector(conn=conn, paper_pk=paper.pk):
        hits = state.search.similar(paper_id=key, limit=SIMILAR_PAPERS)
        similar = repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])
    text = paper_markdown(paper, similar=similar, base_url=state.settings.base_url)
    return Response(text, media_type=MEDIA_TYPE, headers={"vary": "Accept"})


@router.get("/papers/{paper_id:path}.md", response_class=Response, include_in_schema=False)
def paper_md(paper_id: str, conn: ConnDep, state: StateDep) -> Response:
    """One paper as markdown: title, authors, dates, links, abstract, imported summary, similar papers."""
    key = parse_arxiv_id(paper_id).key
    if key != paper_id:
        # One address per paper, as for its page: versions and arXiv URLs lead to the canonical one.
        return RedirectResponse(f"/papers/{key}.md", status_code=308)
    return markdown_response(conn=conn, state=state, key=key)
