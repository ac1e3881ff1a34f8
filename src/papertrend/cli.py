"""The `papertrend` command: every job the service runs can also be run once by hand (DESIGN §5)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.errors import InvalidPaperId
from papertrend.ingest.base import Parsed, RawBatch, Source, make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import IngestReport, run_ingest
from papertrend.papers import repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.models import Paper
from papertrend.schema import ingest_runs, papers

app = typer.Typer(no_args_is_help=True, help="Papertrend: keep up with research papers.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load papers from a source.")
papers_app = typer.Typer(no_args_is_help=True, help="Look at stored papers.")
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(papers_app, name="papers")

console = Console()
err = Console(stderr=True)


@dataclass
class Ctx:
    settings: Settings
    engine: Engine


def _ctx() -> Ctx:
    """Settings from the environment and a migrated database."""
    settings = Settings()
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    return Ctx(settings, engine)


def _client(settings: Settings, *, min_interval: float = 0.0) -> PoliteClient:
    return PoliteClient(
        user_agent=settings.user_agent,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        min_interval=min_interval,
    )


def _run(ctx: Ctx, source: Source, *, label: str) -> IngestReport:
    """Run one ingest with a progress bar; print the summary line; exit 1 if the run failed."""
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[counts]}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task(label, total=None, counts="")

        def progress(raw: RawBatch, parsed: Parsed, report: IngestReport) -> None:
            bar.update(
                task,
                counts=f"{report.added} added · {report.updated} updated · {report.unchanged} unchanged"
                f" · {report.rejected} rejected",
            )

        report = run_ingest(engine=ctx.engine, source=source, progress=progress)
    (console if report.ok else err).print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    if not report.ok:
        raise typer.Exit(1)
    return report


def _parse_day(value: str | None, *, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


DayOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done on every start)."""
    settings = Settings()
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    console.print(f"database at revision {migrate.current(engine)} ({engine.url.render_as_string()})")


@ingest_app.command("hf-daily")
def ingest_hf_daily(
    date_: Annotated[str | None, typer.Option("--date", help="One day, YYYY-MM-DD.")] = None,
    since: Annotated[str | None, typer.Option(help="Every day from YYYY-MM-DD to today.")] = None,
    week: Annotated[str | None, typer.Option(help="An ISO week, YYYY-Www.")] = None,
    month: Annotated[str | None, typer.Option(help="A month, YYYY-MM.")] = None,
    from_file: Annotated[
        Path | None,
        typer.Option(help="Saved responses: one day's JSON list, or daily_papers_by_day.jsonl.gz."),
    ] = None,
) -> None:
    """Hugging Face Daily Papers (with upvotes). With no option: the last three days."""
    ctx = _ctx()
    options: dict[str, Any] = {}
    if from_file is not None:
        options["from_file"] = from_file
    elif week:
        options["week"] = week
    elif month:
        options["month"] = month
    else:
        today = datetime.now(UTC).date()
        one = _parse_day(date_, option="--date")
        start = _parse_day(since, option="--since") or one or today - timedelta(days=2)
        from papertrend.ingest.sources.hf_daily import days_between

        options["days"] = days_between(start, one or today)
    if "from_file" not in options:
        options.update(client=_client(ctx.settings), base_url=ctx.settings.hf_base_url)
    _run(ctx, make_source("hf-daily", **options), label="hf-daily")


@ingest_app.command("arxiv-oai")
def ingest_arxiv_oai(
    set_spec: Annotated[str | None, typer.Option("--set", help="OAI set, e.g. cs or physics:hep-th.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD; default: where the last run stopped.")
    ] = None,
    until: DayOpt = None,
    prefix: Annotated[str, typer.Option(help="metadataPrefix: arXiv or arXivRaw.")] = "arXiv",
) -> None:
    """arXiv OAI-PMH harvest (ListRecords, resumable)."""
    ctx = _ctx()
    source = make_source(
        "arxiv-oai",
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_oai_url,
        set_spec=set_spec,
        from_date=_parse_day(from_, option="--from"),
        until=_parse_day(until, option="--until"),
        metadata_prefix=prefix,
    )
    _run(ctx, source, label="arxiv-oai")


@ingest_app.command("arxiv-api")
def ingest_arxiv_api(
    query: Annotated[
        str | None, typer.Option(help="arXiv search_query, e.g. 'cat:cs.CL AND ti:agents'.")
    ] = None,
    id_list: Annotated[list[str] | None, typer.Option("--id", help="Fetch these ids (repeatable).")] = None,
    max_results: Annotated[int, typer.Option(help="Stop after this many results.")] = 200,
) -> None:
    """arXiv export API (Atom), 3 s between requests as arXiv asks."""
    if not query and not id_list:
        raise typer.BadParameter("give --query or --id")
    ctx = _ctx()
    source = make_source(
        "arxiv-api",
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_api_url,
        query=query,
        id_list=id_list,
        max_results=max_results,
    )
    _run(ctx, source, label="arxiv-api")


@ingest_app.command("arxiv-rss")
def ingest_arxiv_rss(
    category: Annotated[list[str], typer.Option(help="Category feed, e.g. cs.CL (repeatable).")],
) -> None:
    """arXiv's daily new-submission RSS feeds."""
    ctx = _ctx()
    source = make_source(
        "arxiv-rss", client=_client(ctx.settings), base_url=ctx.settings.arxiv_rss_url, categories=category
    )
    _run(ctx, source, label="arxiv-rss")


@ingest_app.command("jsonl")
def ingest_jsonl(
    paths: Annotated[
        list[Path], typer.Argument(help="Files like arxiv_metadata/*.jsonl.gz or the Kaggle snapshot.")
    ],
) -> None:
    """arXiv metadata JSON-lines files, gzip or plain, streamed; resumes a run that was cut short."""
    ctx = _ctx()
    failed = False
    for path in paths:
        try:
            _run(ctx, make_source("jsonl", path=path), label=path.name)
        except typer.Exit:
            failed = True
    if failed:
        raise typer.Exit(1)


def _authors_short(names: list[str], *, keep: int = 3) -> str:
    if len(names) <= keep:
        return ", ".join(names)
    return ", ".join(names[:keep]) + f" +{len(names) - keep}"


def _print_papers(rows: list[Paper], *, heading: str) -> None:
    table = Table(title=heading, show_lines=False, expand=True)
    table.add_column("id", no_wrap=True)
    table.add_column("▲", justify="right")
    table.add_column("title")
    table.add_column("authors", max_width=40)
    for p in rows:
        table.add_row(p.id, str(p.hf_upvotes or ""), p.title, _authors_short(p.authors))
    console.print(table)


@papers_app.command("list")
def papers_list(
    date_: Annotated[str | None, typer.Option("--date", help="YYYY-MM-DD; default: the latest day.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers of one listing day, most upvoted first."""
    ctx = _ctx()
    with reading(ctx.engine) as conn:
        day = _parse_day(date_, option="--date") or repository.latest_day(conn=conn)
        rows = repository.list_for_days(conn=conn, start=day, end=day, limit=limit) if day else []
    if as_json:
        typer.echo(orjson.dumps([_paper_json(p) for p in rows]).decode())
        return
    if not rows:
        console.print(f"No papers for {day or 'any day'} yet. Load some: papertrend ingest jsonl FILE")
        return
    _print_papers(rows, heading=f"Papers of {day}")


def _paper_json(p: Paper) -> dict[str, Any]:
    return {
        k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in dataclasses.asdict(p).items()
    }


@papers_app.command("show")
def papers_show(paper_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One paper, every stored field."""
    try:
        key = parse_arxiv_id(paper_id).key
    except InvalidPaperId as exc:
        err.print(exc.message, markup=False)
        raise typer.Exit(2) from None
    ctx = _ctx()
    with reading(ctx.engine) as conn:
        paper = repository.get(conn=conn, paper_id=key)
    if paper is None:
        err.print(f"no paper {key} stored")
        raise typer.Exit(1)
    if as_json:
        typer.echo(orjson.dumps(_paper_json(paper)).decode())
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


@app.command("stats")
def stats() -> None:
    """How many papers, from which sources, and what the last ingests did."""
    ctx = _ctx()
    with reading(ctx.engine) as conn:
        total = repository.count(conn=conn)
        day = repository.latest_day(conn=conn)
        with_hf = conn.execute(
            sa.select(sa.func.count()).where(papers.c.hf_daily_on.is_not(None))
        ).scalar_one()
        runs = (
            conn.execute(sa.select(ingest_runs).order_by(ingest_runs.c.finished_at.desc()).limit(10))
            .mappings()
            .all()
        )
    console.print(f"papers: {total:,} · on Hugging Face daily: {with_hf:,} · latest day: {day or '—'}")
    if runs:
        table = Table(title="Recent ingests")
        for col in ("source", "finished", "ok", "added", "updated", "unchanged", "rejected", "error"):
            table.add_column(col)
        for r in runs:
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


@app.command("serve")
def serve() -> None:
    """Until the web app exists (issue #4): fetch the last days from Hugging Face and arXiv, list them."""
    ctx = _ctx()
    console.print(f"database: {ctx.engine.url.render_as_string()}")
    offline = False
    # One quick try each: a first look at the service should not hang on a missing network.
    quick = ctx.settings.model_copy(update={"http_retries": 0, "http_timeout": 15.0})
    today = datetime.now(UTC).date()
    starts: list[tuple[str, dict[str, Any]]] = [
        ("hf-daily", {"days": [today - timedelta(days=i) for i in (2, 1, 0)], "base_url": quick.hf_base_url}),
        ("arxiv-rss", {"categories": ["cs.AI", "cs.CL", "cs.LG"], "base_url": quick.arxiv_rss_url}),
    ]
    for name, options in starts:
        options["client"] = _client(quick)
        report = run_ingest(engine=ctx.engine, source=make_source(name, **options))
        console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
        if report.error and "connection failed" in report.error:
            offline = True
    if offline:
        console.print(
            "[yellow]No network: could not reach Hugging Face or arXiv.[/yellow] Load papers from a file "
            "instead, e.g.\n  papertrend ingest jsonl ../shared/data/arxiv_metadata/"
            "arxiv_cs_listings_2025-03-18_to_2026-07-01.jsonl.gz\n"
            "  papertrend ingest hf-daily --from-file "
            "../shared/data/hf_daily_papers/daily_papers_by_day.jsonl.gz",
            soft_wrap=True,
        )
    with reading(ctx.engine) as conn:
        day = repository.latest_day(conn=conn)
        rows = repository.list_for_days(conn=conn, start=day, end=day, limit=30) if day else []
    if rows:
        _print_papers(rows, heading=f"Papers of {day}")


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The CLI prints each run's summary line, failures included; the pipeline's own error line would
    # only repeat it. Workers and the service keep it.
    logging.getLogger("papertrend.ingest.pipeline").setLevel(logging.CRITICAL)
    app()
