"""`papertrend ingest …`: load papers from each source once, with a progress bar and a summary line."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from papertrend.commands import Ctx, DayOpt, console, err, open_ctx, parse_day
from papertrend.config import Settings
from papertrend.ingest.backfill import categories_source
from papertrend.ingest.base import Parsed, RawBatch, Source, make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import IngestReport, run_ingest
from papertrend.search.cli import embed_with_progress

ingest_app = typer.Typer(no_args_is_help=True, help="Load papers from a source.")

EmbedOpt = Annotated[bool, typer.Option("--embed", help="Then embed the papers that lack a vector.")]


def _client(settings: Settings, *, min_interval: float = 0.0) -> PoliteClient:
    return PoliteClient(
        user_agent=settings.user_agent,
        timeout=settings.http_timeout,
        retries=settings.http_retries,
        min_interval=min_interval,
    )


def _run(ctx: Ctx, source: Source, *, label: str, embed: bool = False) -> IngestReport:
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
    if embed:
        # Whatever was stored before a failure is worth embedding too.
        embed_with_progress(ctx)
    if not report.ok:
        raise typer.Exit(1)
    return report


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
    embed: EmbedOpt = False,
) -> None:
    """Hugging Face Daily Papers (with upvotes). With no option: the last three days."""
    ctx = open_ctx()
    options: dict[str, Any] = {}
    if from_file is not None:
        options["from_file"] = from_file
    elif week:
        options["week"] = week
    elif month:
        options["month"] = month
    else:
        today = datetime.now(UTC).date()
        one = parse_day(date_, option="--date")
        start = parse_day(since, option="--since") or one or today - timedelta(days=2)
        from papertrend.ingest.sources.hf_daily import days_between

        options["days"] = days_between(start, one or today)
    if "from_file" not in options:
        options.update(client=_client(ctx.settings), base_url=ctx.settings.hf_base_url)
    _run(ctx, make_source("hf-daily", **options), label="hf-daily", embed=embed)


@ingest_app.command("sample")
def ingest_sample() -> None:
    """The bundled sample, no network needed: 212 Hugging Face daily papers of August 2026, embedded."""
    from papertrend.ingest.sample import next_steps, sample_source

    ctx = open_ctx()
    _run(ctx, sample_source(), label="sample", embed=True)
    console.print(next_steps(), markup=False, highlight=False)


@ingest_app.command("arxiv-oai")
def ingest_arxiv_oai(
    set_spec: Annotated[str | None, typer.Option("--set", help="OAI set, e.g. cs or physics:hep-th.")] = None,
    from_: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD; default: where the last run stopped.")
    ] = None,
    until: DayOpt = None,
    prefix: Annotated[str, typer.Option(help="metadataPrefix: arXiv or arXivRaw.")] = "arXiv",
    embed: EmbedOpt = False,
) -> None:
    """arXiv OAI-PMH harvest (ListRecords, resumable)."""
    ctx = open_ctx()
    source = make_source(
        "arxiv-oai",
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_oai_url,
        set_spec=set_spec,
        from_date=parse_day(from_, option="--from"),
        until=parse_day(until, option="--until"),
        metadata_prefix=prefix,
    )
    _run(ctx, source, label="arxiv-oai", embed=embed)


@ingest_app.command("arxiv-api")
def ingest_arxiv_api(
    query: Annotated[
        str | None, typer.Option(help="arXiv search_query, e.g. 'cat:cs.CL AND ti:agents'.")
    ] = None,
    id_list: Annotated[list[str] | None, typer.Option("--id", help="Fetch these ids (repeatable).")] = None,
    max_results: Annotated[int, typer.Option(help="Stop after this many results.")] = 200,
    embed: EmbedOpt = False,
) -> None:
    """arXiv export API (Atom), 3 s between requests as arXiv asks."""
    if not query and not id_list:
        raise typer.BadParameter("give --query or --id")
    ctx = open_ctx()
    source = make_source(
        "arxiv-api",
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_api_url,
        query=query,
        id_list=id_list,
        max_results=max_results,
    )
    _run(ctx, source, label="arxiv-api", embed=embed)


@ingest_app.command("categories")
def ingest_categories(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Look up at most this many papers.")] = 100,
) -> None:
    """Categories for papers only Hugging Face knows, from their arXiv records (arXiv API, #14)."""
    ctx = open_ctx()
    source = categories_source(
        engine=ctx.engine,
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_api_url,
        limit=limit,
    )
    if source is None:
        console.print("Every paper has categories.")
        return
    _run(ctx, source, label="arxiv-api categories")


@ingest_app.command("arxiv-rss")
def ingest_arxiv_rss(
    category: Annotated[list[str], typer.Option(help="Category feed, e.g. cs.CL (repeatable).")],
    embed: EmbedOpt = False,
) -> None:
    """arXiv's daily new-submission RSS feeds."""
    ctx = open_ctx()
    source = make_source(
        "arxiv-rss", client=_client(ctx.settings), base_url=ctx.settings.arxiv_rss_url, categories=category
    )
    _run(ctx, source, label="arxiv-rss", embed=embed)


@ingest_app.command("jsonl")
def ingest_jsonl(
    paths: Annotated[
        list[Path], typer.Argument(help="Files like arxiv_metadata/*.jsonl.gz or the Kaggle snapshot.")
    ],
    embed: EmbedOpt = False,
) -> None:
    """arXiv metadata JSON-lines files, gzip or plain, streamed; resumes a run that was cut short."""
    ctx = open_ctx()
    failed = False
    for path in paths:
        try:
            _run(ctx, make_source("jsonl", path=path), label=path.name)
        except typer.Exit:
            failed = True
    if embed:
        embed_with_progress(ctx)
    if failed:
        raise typer.Exit(1)
