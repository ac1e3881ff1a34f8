"""The `papertrend` command: every job the service runs can also be run once by hand (DESIGN §5)."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, cast

import orjson
import sqlalchemy as sa
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from sqlalchemy.engine import Engine

from papertrend import dbcopy, migrate
from papertrend.accounts.cli import users_app
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.digest.cli import digest_app
from papertrend.errors import InvalidPaperId
from papertrend.ingest.base import Parsed, RawBatch, Source, make_source
from papertrend.ingest.http import PoliteClient
from papertrend.ingest.pipeline import IngestReport, run_ingest
from papertrend.papers import repository
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.models import Paper
from papertrend.schema import ingest_runs, papers
from papertrend.search.embed_job import EmbedReport, embed_missing
from papertrend.search.embedder import Embedder, get_embedder
from papertrend.search.service import Searcher
from papertrend.search.types import Filters, Hit, Mode, Sort

app = typer.Typer(no_args_is_help=True, help="Papertrend: keep up with research papers.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
ingest_app = typer.Typer(no_args_is_help=True, help="Load papers from a source.")
papers_app = typer.Typer(no_args_is_help=True, help="Look at stored papers.")
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(papers_app, name="papers")
app.add_typer(digest_app, name="digest")
app.add_typer(users_app, name="users")

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
        _embed(ctx)
    if not report.ok:
        raise typer.Exit(1)
    return report


def _embedder(ctx: Ctx, *, model: str | None = None, device: str | None = None) -> Embedder:
    try:
        return get_embedder(
            model or ctx.settings.embedding_model, device=device or ctx.settings.embedding_device
        )
    except (ValueError, RuntimeError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None


def _embed(
    ctx: Ctx,
    *,
    model: str | None = None,
    device: str | None = None,
    batch_size: int = 256,
    limit: int | None = None,
) -> EmbedReport:
    """Embed papers without a vector, with a progress bar and a summary line."""
    embedder = _embedder(ctx, model=model, device=device)
    with Progress(
        TextColumn("[bold]embed"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        task = bar.add_task("embed", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = embed_missing(
            engine=ctx.engine, embedder=embedder, batch_size=batch_size, limit=limit, progress=progress
        )
    console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    return report


def _parse_day(value: str | None, *, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


DayOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD")]
EmbedOpt = Annotated[bool, typer.Option("--embed", help="Then embed the papers that lack a vector.")]


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (also done on every start)."""
    settings = Settings()
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    console.print(f"database at revision {migrate.current(engine)} ({engine.url.render_as_string()})")


@db_app.command("copy")
def db_copy(
    source_url: Annotated[str, typer.Argument(help="The install to copy from (it is only read).")],
    target_url: Annotated[str, typer.Argument(help="The database to copy into; migrated first.")],
    batch: Annotated[int, typer.Option(min=1, help="Rows per read and per committed write.")] = dbcopy.BATCH,
) -> None:
    """Copy every table between SQLite and PostgreSQL, then verify counts and checksums (issue #6).

    Safe to rerun: only missing rows are written. Exits 1 when a table does not verify, 2 when refused.
    """
    if dbcopy.sqlite_file_missing(source_url):
        err.print(f"[red]no SQLite database at {escape(source_url)}[/red]")
        raise typer.Exit(2)
    source, target = create_engine(source_url), create_engine(target_url)
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)
            if done == total:
                err.print(f"{table}: {total} rows read", highlight=False)

        try:
            report = dbcopy.copy_database(source=source, target=target, batch=batch, progress=progress)
        except dbcopy.CopyRefused as exc:
            err.print(f"[red]refused:[/red] {escape(str(exc))}")
            raise typer.Exit(2) from None
        finally:
            source.dispose()
            target.dispose()
    table = Table("table", "source rows", "target rows", "copied now", "checksum ok", "copy s")
    table.columns[0].min_width = len("subscription_tokens")  # whole table names, even 80 columns wide
    for t in report.tables:
        ok = "yes" if t.ok else "[red]NO[/red]"
        table.add_row(
            t.table, str(t.source_rows), str(t.target_rows), str(t.copied), ok, f"{t.copy_seconds:.1f}"
        )
    console.print(table)
    verify_s = sum(t.verify_seconds for t in report.tables)
    console.print(
        f"indexes and sequences {report.finish_seconds:.1f} s, verify {verify_s:.1f} s, "
        f"total {report.seconds:.1f} s"
    )
    if not report.ok:
        err.print("[red]the copy does not match the source: see the tables marked NO[/red]")
        raise typer.Exit(1)


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
    _run(ctx, make_source("hf-daily", **options), label="hf-daily", embed=embed)


@ingest_app.command("sample")
def ingest_sample() -> None:
    """The bundled sample, no network needed: 212 Hugging Face daily papers of August 2026, embedded."""
    from papertrend.ingest.sample import next_steps, sample_source

    ctx = _ctx()
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
    ctx = _ctx()
    source = make_source(
        "arxiv-api",
        client=_client(ctx.settings, min_interval=ctx.settings.arxiv_api_interval),
        base_url=ctx.settings.arxiv_api_url,
        query=query,
        id_list=id_list,
        max_results=max_results,
    )
    _run(ctx, source, label="arxiv-api", embed=embed)


@ingest_app.command("arxiv-rss")
def ingest_arxiv_rss(
    category: Annotated[list[str], typer.Option(help="Category feed, e.g. cs.CL (repeatable).")],
    embed: EmbedOpt = False,
) -> None:
    """arXiv's daily new-submission RSS feeds."""
    ctx = _ctx()
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
    ctx = _ctx()
    failed = False
    for path in paths:
        try:
            _run(ctx, make_source("jsonl", path=path), label=path.name)
        except typer.Exit:
            failed = True
    if embed:
        _embed(ctx)
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


def _paper_key(paper_id: str) -> str:
    """The canonical key of any id spelling; exit 2 with the reason for a string that is none."""
    try:
        return parse_arxiv_id(paper_id).key
    except InvalidPaperId as exc:
        err.print(exc.message, markup=False)
        raise typer.Exit(2) from None


@papers_app.command("show")
def papers_show(paper_id: str, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """One paper, every stored field."""
    key = _paper_key(paper_id)
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


@app.command("embed")
def embed_command(
    model: Annotated[
        str | None, typer.Option(help="Embedding model (default: PAPERTREND_EMBEDDING_MODEL).")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: PAPERTREND_EMBEDDING_DEVICE).")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=4096)] = 256,
    limit: Annotated[int | None, typer.Option(min=1, help="Embed at most this many papers.")] = None,
) -> None:
    """Embed every paper that lacks a vector for the model; resumable, safe to interrupt."""
    _embed(_ctx(), model=model, device=device, batch_size=batch_size, limit=limit)


def _searcher(ctx: Ctx) -> Searcher:
    return Searcher(
        engine=ctx.engine,
        embedder=_embedder(ctx),
        index_dir=ctx.settings.data_dir / "index",
        ann_threshold=ctx.settings.ann_threshold,
    )


def _print_hits(ctx: Ctx, hits: list[Hit], *, as_json: bool, snippet_chars: int = 220) -> None:
    with reading(ctx.engine) as conn:
        found = {p.id: p for p in repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])}
    if as_json:
        typer.echo(
            orjson.dumps(
                [{"score": h.score, **_paper_json(found[h.paper_id])} for h in hits if h.paper_id in found]
            ).decode()
        )
        return
    if not hits:
        console.print("No results. Try other words, fewer filters, or --mode semantic.")
        return
    for rank, h in enumerate(hits, start=1):
        p = found.get(h.paper_id)
        if p is None:
            continue
        day = p.listed_on or p.hf_daily_on or (p.published_at.date() if p.published_at else "")
        abstract = (
            p.abstract
            if len(p.abstract) <= snippet_chars
            else p.abstract[:snippet_chars].rsplit(" ", 1)[0] + " …"
        )
        console.print(f"{rank:>2}. [bold]{escape(p.title)}[/bold]", highlight=False)
        console.print(
            f"    {p.id} · {day} · {escape(_authors_short(p.authors))} · score {h.score:.3f}", highlight=False
        )
        console.print(f"    {escape(abstract)}", highlight=False)


@app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What you are looking for, in your own words.")],
    mode: Annotated[str, typer.Option(help="keyword, semantic or hybrid.")] = "hybrid",
    limit: Annotated[int, typer.Option(min=1, max=500)] = 10,
    since: DayOpt = None,
    until: DayOpt = None,
    category: Annotated[
        list[str] | None, typer.Option(help="arXiv category, e.g. cs.CL (repeatable).")
    ] = None,
    author: Annotated[list[str] | None, typer.Option(help="Part of an author's name (repeatable).")] = None,
    sort: Annotated[str, typer.Option(help="relevance or date.")] = "relevance",
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Search papers by keyword, by meaning, or both (hybrid)."""
    if mode not in ("keyword", "semantic", "hybrid"):
        raise typer.BadParameter("must be keyword, semantic or hybrid", param_hint="--mode")
    if sort not in ("relevance", "date"):
        raise typer.BadParameter("must be relevance or date", param_hint="--sort")
    ctx = _ctx()
    filters = Filters(
        since=_parse_day(since, option="--since"),
        until=_parse_day(until, option="--until"),
        categories=tuple(category or ()),
        authors=tuple(author or ()),
    )
    searcher = _searcher(ctx)
    hits = searcher.search(
        query=query, mode=cast(Mode, mode), limit=limit, filters=filters, sort=cast(Sort, sort)
    )
    _print_hits(ctx, hits, as_json=as_json)


@papers_app.command("similar")
def papers_similar(
    paper_id: str,
    limit: Annotated[int, typer.Option(min=1, max=100)] = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Papers nearest in meaning to one paper."""
    key = _paper_key(paper_id)
    ctx = _ctx()
    _print_hits(ctx, _searcher(ctx).similar(paper_id=key, limit=limit), as_json=as_json)


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
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
    no_worker: Annotated[
        bool, typer.Option("--no-worker", help="Do not run the periodic jobs in-process.")
    ] = False,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Web processes sharing the port; about one per core.")
    ] = 1,
) -> None:
    """Serve the web app; on a single machine also fetch and embed new papers in the background."""
    from papertrend.web.app import run_server

    run_server(Settings(), host=host, port=port, worker=not no_worker, workers=workers)


@app.command("worker")
def worker_command() -> None:
    """Run the periodic jobs (ingest every PAPERTREND_INGEST_INTERVAL_MINUTES, embed new papers)."""
    import threading

    from papertrend.web.app import configure_logging
    from papertrend.worker import default_jobs, run_loop, worker_leases

    ctx = _ctx()
    configure_logging(ctx.settings)
    stop = threading.Event()
    try:
        run_loop(
            default_jobs(settings=ctx.settings, engine=ctx.engine),
            stop=stop,
            leases=worker_leases(settings=ctx.settings, engine=ctx.engine),
        )
    except KeyboardInterrupt:
        stop.set()


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The CLI prints each run's summary line, failures included; the pipeline's own error line would
    # only repeat it. Workers and the service keep it.
    logging.getLogger("papertrend.ingest.pipeline").setLevel(logging.CRITICAL)
    app()
