"""The `papertrend` command: every job the service runs can also be run once by hand (DESIGN §5).

Each room's commands live beside it (`ingest/cli.py`, `papers/cli.py`, `search/cli.py`,
`accounts/cli.py`, `digest/cli.py`); this module assembles them and keeps `db`, `serve` and `worker`.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated, Any

import pydantic
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from papertrend import dbcopy, migrate
from papertrend.accounts.cli import users_app
from papertrend.commands import console, err, open_ctx
from papertrend.config import Settings
from papertrend.db import create_engine
from papertrend.digest.cli import digest_app
from papertrend.ingest.cli import ingest_app
from papertrend.mcp.cli import mcp_command
from papertrend.papers.cli import papers_app, stats
from papertrend.search.cli import embed_command, reindex_command, search_command

app = typer.Typer(no_args_is_help=True, help="Papertrend: keep up with research papers.")
db_app = typer.Typer(no_args_is_help=True, help="Database maintenance.")
app.add_typer(db_app, name="db")
app.add_typer(ingest_app, name="ingest")
app.add_typer(papers_app, name="papers")
app.add_typer(digest_app, name="digest")
app.add_typer(users_app, name="users")
app.command("embed")(embed_command)
app.command("search")(search_command)
app.command("reindex")(reindex_command)
app.command("stats")(stats)
app.command("mcp")(mcp_command)


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
    """Serve the web app; on a single machine also fetch and embed new papers in the background.

    Without `--no-worker` the periodic jobs (ingest, embed) run in a thread of this process: what a
    single machine needs. Larger installs run `papertrend worker` processes and serve with
    `--no-worker`. With `--workers` > 1 the jobs stay in this, the supervising, process (#11).
    """
    import threading

    from papertrend.logs import configure_logging
    from papertrend.web.server import run_server

    settings = Settings()
    configure_logging(settings)
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    stop = threading.Event()
    if not no_worker:
        from papertrend.worker import default_jobs, run_loop, worker_leases

        jobs = default_jobs(settings=settings, engine=engine)
        leases = worker_leases(settings=settings, engine=engine)
        threading.Thread(
            target=run_loop, args=(jobs,), kwargs={"stop": stop, "leases": leases}, name="worker", daemon=True
        ).start()
    try:
        run_server(settings, engine=engine, host=host, port=port, workers=workers)
    finally:
        stop.set()


@app.command("worker")
def worker_command() -> None:
    """Run the periodic jobs (ingest every PAPERTREND_INGEST_INTERVAL_MINUTES, embed new papers)."""
    import threading

    from papertrend.logs import configure_logging
    from papertrend.worker import default_jobs, run_loop, worker_leases

    ctx = open_ctx()
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


def settings_problem(exc: pydantic.ValidationError) -> str:
    """One line per invalid setting, naming its variable (#12: not a 46-line traceback)."""
    lines = []
    for e in exc.errors():
        msg = e["msg"].removeprefix("Value error, ")
        name = "PAPERTREND_" + "_".join(str(part) for part in e["loc"]).upper()
        lines.append(f"{name}: {msg}" if e["loc"] else msg)
    return "invalid settings: " + "; ".join(lines)


def undecodable(args: list[str]) -> str | None:
    """The first argument holding bytes that are not UTF-8 (Python hands them over as lone surrogates,
    which the database drivers, the tokenizers and tantivy refuse with a traceback), unless it names an
    existing file: a file name may be any bytes."""
    for arg in args:
        value = arg.split("=", 1)[-1]
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            if not os.path.exists(value):
                return arg
    return None


def main() -> None:
    """Console-script entry point."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # The CLI prints each run's summary line, failures included; the pipeline's own error line would
    # only repeat it. Workers and the service keep it.
    logging.getLogger("papertrend.ingest.pipeline").setLevel(logging.CRITICAL)
    bad = undecodable(sys.argv[1:])
    if bad is not None:
        print(
            f"papertrend: an argument is not UTF-8 text: {bad!r}; check the terminal's encoding",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        app(standalone_mode=True)
    except pydantic.ValidationError as exc:
        print(settings_problem(exc), file=sys.stderr)
        sys.exit(2)
