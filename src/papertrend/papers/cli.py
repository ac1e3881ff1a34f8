"""`papertrend papers list | show | similar` and `papertrend stats`: the stored papers from the terminal."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.table import Table

from papertrend.commands import console, err, open_ctx, paper_json, paper_key, parse_day
from papertrend.db import reading
from papertrend.ingest import runs
from papertrend.papers import repository
from papertrend.papers.models import Paper, authors_short

papers_app = typer.Typer(no_args_is_help=True, help="Look at stored papers.")


def _print_papers(rows: list[Paper], *, heading: str) -> None:
    table = Table(title=heading, show_lines=False, expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("▲", justify="right")
    table.add_column("title")
    table.add_column("authors", max_width=40)
    for p in rows:
        table.add_row(p.id, str(p.hf_upvotes or ""), p.title, authors_short(p.authors))
    console.print(table)


@papers_app.command("list")
def papers_list(
    date_: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; default: the latest day.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers of one listing day, most upvoted first."""
    ctx = open_ctx()
    with reading(ctx.engine) as conn:
        day = parse_day(date_, option="--date") or repository.latest_day(conn=conn)
        rows = repository.list_for_days(conn=conn, start=day, end=day, limit=limit) if day else []
    if as_json:
        typer.echo(orjson.dumps([paper_json(p) for p in rows]).decode())
        return
    if not rows:
        console.print(f"No papers for {day or 'any day'} yet. Load some: papertrend ingest jsonl FILE")
        return
    _print_papers(rows, heading=f"Papers of {day}")


@papers_app.command("show")
def papers_show(paper_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One paper, every stored field."""
    key = paper_key(paper_id)
    ctx = open_ctx()
    with reading(ctx.engine) as conn:
        paper = repository.get(conn=conn, paper_id=key)
    if paper is None:
        err.print(f"no paper {key} stored")
        raise typer.Exit(1)
    if as_json:
        typer.echo(orjson.dumps(paper_json(paper)).decode())
        return
    console.print(f"[bold]{paper.title}[/bold]", highlight=False)
    console.print(f"{paper.id}{f'v{paper.version}' if paper.version else ''} · {', '.join(paper.categories)}")
    console.print(", ".join(paper.authors), highlight=False)
    console.print()
    console.print(paper.abstract, highlight=False, markup=False)
    console.print()
    for label, value in (
        ("published", paper.published_at),
        ("listed", paper.listed_on or paper.hf_daily_on),
        ("comment", paper.comment),
        ("journal", paper.journal_ref),
        ("doi", paper.doi),
        ("arXiv", paper.abs_url),
        ("pdf", paper.pdf_url),
        ("code", paper.code_url),
        ("project", paper.project_url),
        ("HF upvotes", paper.hf_upvotes),
        ("GitHub stars", paper.github_stars),
        ("sources", ", ".join(paper.sources)),
    ):
        if value not in (None, ""):
            console.print(f"{label:>13}: {value}", highlight=False, markup=False)


@papers_app.command("similar")
def papers_similar(
    paper_id: str,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers nearest in meaning to one paper."""
    from papertrend.search.cli import print_hits, searcher

    key = paper_key(paper_id)
    ctx = open_ctx()
    print_hits(ctx, searcher(ctx).similar(paper_id=key, limit=limit), as_json=as_json)


def stats() -> None:
    """How many papers, from which sources, and what the last ingests did."""
    ctx = open_ctx()
    with reading(ctx.engine) as conn:
        total = repository.count(conn=conn)
        day = repository.latest_day(conn=conn)
        with_hf = repository.count_on_hf_daily(conn=conn)
        recent = runs.recent(conn=conn, limit=10)
    console.print(f"papers: {total:,} · on Hugging Face daily: {with_hf:,} · latest day: {day or '—'}")
    if recent:
        table = Table(title="Recent ingests")
        for col in ("source", "finished", "ok", "added", "updated", "unchanged", "rejected", "error"):
            table.add_column(col)
        for r in recent:
            table.add_row(
                r["source"],
                r["finished_at"].strftime("%Y-%m-%d %H:%M"),
                "yes" if r["ok"] else "NO",
                str(r["added"]),
                str(r["updated"]),
                str(r["unchanged"]),
                str(r["rejected"]),
                r["error"] or "",
            )
        console.print(table)
