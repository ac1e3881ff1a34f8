"""The JSON API's shapes, named and typed as Hugging Face's papers API has them (issues #4, #16).

Hugging Face's client library (`huggingface_hub`'s `PaperInfo`) reads a paper from either a bare paper
object (`/api/papers/{id}`) or a list item `{paper: {...}, title, summary, publishedAt, numComments,
submittedBy}` (`/api/daily_papers`, `/api/papers/search`); both are answered here with its field names
and types, times as it writes them (`2026-08-21T00:00:00.000Z`). Fields it has no name for follow in
the same camelCase. The route by route comparison is in docs/api.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated, Any

from pydantic import BaseModel, Field, PlainSerializer, WithJsonSchema

from papertrend.papers.models import Paper
from papertrend.web.templating import pdf_url, safe_url


def _hf_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# A UTC time with milliseconds and `Z`, the one form huggingface_hub's `parse_datetime` is written for.
HfDateTime = Annotated[
    datetime,
    PlainSerializer(_hf_time, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class ErrorDetail(BaseModel):
    loc: list[str]
    msg: str


class ApiError(BaseModel):
    """An error from a `/api/` route, in Hugging Face's shape: `{"error": "message"}` (what its client
    library reports), with the status and, for invalid parameters, which ones."""

    error: str = Field(description="What went wrong, in a sentence.")
    status: int
    details: list[ErrorDetail] | None = Field(default=None, description="Which parameters were invalid.")


class ErrorBody(BaseModel):
    status: int
    message: str
    details: list[ErrorDetail] | None = Field(default=None, description="Which parameters were invalid.")


class ErrorOut(BaseModel):
    """An error from a route outside `/api/` (feeds, /healthz): see web.errors.error_response."""

    error: ErrorBody


def error_responses(model: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The error answers every JSON route documents, in the given shape."""
    return {
        400: {
            "model": model,
            "description": "A parameter is malformed (a date, week, id, category, cursor).",
        },
        404: {"model": model, "description": "No such paper is stored."},
        422: {"model": model, "description": "A parameter is missing, out of range or of the wrong type."},
    }


ERRORS = error_responses(ErrorOut)
API_ERRORS = error_responses(ApiError)
# The same for a route whose own answer is not JSON (FastAPI would document its errors in that type).
API_ERRORS_AS_JSON = {
    status: {
        "description": answer["description"],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}},
    }
    for status, answer in API_ERRORS.items()
}


class Author(BaseModel):
    name: str
    hidden: bool = Field(default=False, description="Always false: hidden authors are not imported.")


class Submitter(BaseModel):
    """Who put the paper on Hugging Face's daily page, as Hugging Face names them."""

    user: str = Field(description="Their Hugging Face user name.")
    fullname: str | None = None
    avatarUrl: str | None = None
    isPro: bool | None = None
    type: str | None = None


class PaperOut(BaseModel):
    """One paper. Hugging Face's names: id … submittedOnDailyBy; ours after."""

    id: str = Field(description="arXiv id without version.")
    title: str
    summary: str = Field(description="The abstract.")
    authors: list[Author]
    publishedAt: HfDateTime | None = Field(description="First published on arXiv.")
    submittedOnDailyAt: HfDateTime | None = Field(description="When it was put on Hugging Face's daily page.")
    submittedOnDailyBy: Submitter | None = Field(description="Who put it there, when imported.")
    upvotes: int = Field(description="Hugging Face upvotes plus upvotes here.")
    numComments: int = Field(description="Comments on Hugging Face, when imported.")
    githubRepo: str | None
    githubStars: int | None
    projectPage: str | None
    ai_summary: str | None = Field(description="Hugging Face's machine-written summary, when imported.")
    ai_keywords: list[str] | None = Field(
        description="Hugging Face's machine-chosen keywords, when imported."
    )
    version: int | None
    categories: list[str] = Field(description="arXiv categories, primary first.")
    primaryCategory: str | None
    comment: str | None
    journalRef: str | None
    doi: str | None
    updatedAt: HfDateTime | None
    listedOn: date | None = Field(description="The listing day the daily pages group it under.")
    arxivUrl: str
    pdfUrl: str
    hfUpvotes: int | None = Field(description="Upvotes imported from Hugging Face.")
    url: str = Field(description="Its page on this service.")


class DailyPaper(BaseModel):
    """One item of a listing, search or ranking, as Hugging Face's daily papers list has it."""

    paper: PaperOut
    title: str
    summary: str
    publishedAt: HfDateTime | None = Field(
        description="When it was put on the daily page, or else the day it is listed under."
    )
    numComments: int
    submittedBy: Submitter | None = Field(description="Who put it on Hugging Face's daily page.")
    score: float | None = Field(
        default=None, description="The ranking score, when ranked by trending score or search relevance."
    )


def submitter(p: Paper) -> Submitter | None:
    """Who put the paper on Hugging Face's daily page, when that was imported."""
    found = p.hf_submitted_by
    if not found or not isinstance(found.get("user"), str):
        return None
    return Submitter.model_validate({k: v for k, v in found.items() if k in Submitter.model_fields})


def paper_out(p: Paper, *, base_url: str) -> PaperOut:
    """A stored paper in the API's shape."""
    return PaperOut(
        id=p.id,
        title=p.title,
        summary=p.abstract,
        authors=[Author(name=a) for a in p.authors],
        publishedAt=p.published_at,
        submittedOnDailyAt=p.hf_submitted_at,
        submittedOnDailyBy=submitter(p),
        upvotes=p.votes,
        numComments=p.hf_comments or 0,
        githubRepo=safe_url(p.code_url),
        githubStars=p.github_stars,
        projectPage=safe_url(p.project_url),
        ai_summary=p.hf_ai_summary,
        ai_keywords=p.hf_ai_keywords,
        version=p.version,
        categories=p.categories,
        primaryCategory=p.primary_category,
        comment=p.comment,
        journalRef=p.journal_ref,
        doi=p.doi,
        updatedAt=p.updated_at,
        listedOn=p.listed_on or p.hf_daily_on,
        arxivUrl=p.abs_url,
        pdfUrl=pdf_url(p),
        hfUpvotes=p.hf_upvotes,
        url=f"{base_url.rstrip('/')}/papers/{p.id}",
    )


def daily_item(p: Paper, *, base_url: str, score: float | None = None) -> DailyPaper:
    """A paper as one item of a list."""
    listed = p.listed_on or p.hf_daily_on
    when = p.hf_submitted_at or (datetime.combine(listed, time(), tzinfo=UTC) if listed else p.published_at)
    return DailyPaper(
        paper=paper_out(p, base_url=base_url),
        title=p.title,
        summary=p.abstract,
        publishedAt=when,
        numComments=p.hf_comments or 0,
        submittedBy=submitter(p),
        score=score,
    )
