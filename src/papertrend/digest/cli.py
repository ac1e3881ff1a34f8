"""`papertrend digest run | preview` (issue #5); also runnable as `python -m papertrend.digest.cli`.

`run` is what the worker does every few minutes: compose every due edition, deliver everything due.
It is safe to run at any time and any number of times, concurrently too: editions are unique per
subscriber and day, and the outbox delivers each once (digest/outbox.py).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, cast
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.config import Settings
from papertrend.db import create_engine, reading
from papertrend.digest import repository
from papertrend.digest.ranking import RankerMode, make_ranker
from papertrend.digest.render import message_id_for, render_digest
from papertrend.digest.repository import sent_ids
from papertrend.digest.run import make_composer, run_digest
from papertrend.digest.schedule import edition_for, window_since
from papertrend.digest.subscriptions import get_by_email
from papertrend.mail.message import mail_context, to_bytes
from papertrend.papers import repository as paper_repository

digest_app = typer.Typer(no_args_is_help=True, help="The daily email: send due editions, preview one.")
console = Console()
err = Console(stderr=True)

ModeOpt = Annotated[
    str,
    typer.Option(
        "--mode",
        help="How topics find new papers: hybrid (default), semantic, keyword (no model), or searcher "
        "(full hybrid search of the store).",
    ),
]
NowOpt = Annotated[
    str | None,
    typer.Option("--now", help="Act as if it were this time (ISO 8601; no zone means UTC)."),
]

EXIT_STOPPED = 3


def parse_now(value: str | None) -> datetime:
    """An aware datetime from --now (a date means its midnight UTC); now if None."""
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not an ISO 8601 time, e.g. 2026-06-24T08:05") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _check_mode(mode: str) -> RankerMode:
    if mode not in ("hybrid", "semantic", "keyword", "searcher"):
        raise typer.BadParameter("--mode must be hybrid, semantic, keyword or searcher")
    return cast(RankerMode, mode)


def _engine(settings: Settings) -> Engine:
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    return engine


@digest_app.command("run")
def run_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would be composed; store and send nothing.")
    ] = False,
    now: NowOpt = None,
    mode: ModeOpt = "hybrid",
) -> None:
    """Compose and send every due edition now (safe to repeat: nobody gets an edition twice)."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    settings = Settings()
    engine = _engine(settings)
    when = parse_now(now)
    try:
        ranker = make_ranker(settings, engine, mode=_check_mode(mode))
        report = run_digest(engine=engine, settings=settings, ranker=ranker, now=when, dry_run=dry_run)
    finally:
        engine.dispose()
    if dry_run:
        table = Table("subscription", "email", "edition", "since", "trending", "for you")
        for due, composed in report.compose.planned:
            table.add_row(
                str(due.sub.id),
                due.sub.email,
                str(due.edition_date),
                str(due.since),
                str(len(composed.trending)),
                str(len(composed.for_you)),
            )
        console.print(table)
    console.print(report.summary())
    if report.delivery is not None and report.delivery.stopped:
        err.print(f"[red]delivery stopped[/red]: {report.delivery.stopped}; the rest waits for the next run")
        raise typer.Exit(EXIT_STOPPED)


@digest_app.command("preview")
def preview_command(
    email: Annotated[str, typer.Argument(help="The subscriber's address.")],
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write here instead of the terminal: .html for the HTML part, else .eml."),
    ] = None,
    now: NowOpt = None,
    mode: ModeOpt = "hybrid",
) -> None:
    """Render the edition a subscriber would get now, without storing or sending anything."""
    settings = Settings()
    engine = _engine(settings)
    when = parse_now(now)
    ctx = mail_context(settings)
    try:
        with reading(engine) as conn:
            sub = get_by_email(conn=conn, email=email)
            if sub is None:
                err.print(f"No subscription for {email}.")
                raise typer.Exit(1)
            day = (
                edition_for(prefs=sub.prefs, confirmed_at=sub.confirmed_at or when, now=when)
                or when.astimezone(ZoneInfo(sub.prefs.timezone)).date()
            )
            previous = repository.previous_edition(conn=conn, subscription_id=sub.id, before=day)
            sent = sent_ids(conn=conn, subscription_ids=[sub.id])[sub.id]
        since = window_since(edition_date=day, cadence=sub.prefs.cadence, previous=previous)
        # The composer `digest run` uses: the preview showed topic searches padding "For you" while
        # the run sent the library recommender's picks (#13).
        ranker = make_ranker(settings, engine, mode=_check_mode(mode))
        composer = make_composer(engine=engine, settings=settings, ranker=ranker)
        composed = composer.compose(sub=sub, edition_date=day, since=since, sent=sent)
        with reading(engine) as conn:
            papers = {p.id: p for p in paper_repository.get_many(conn=conn, paper_ids=composed.paper_ids)}
    finally:
        engine.dispose()
    if composed.empty:
        err.print(f"No new papers for {sub.email} since {since}: this edition would not be sent.")
    message = render_digest(
        ctx=ctx,
        sub=sub,
        edition_date=day,
        created_at=when,
        message_id=message_id_for(
            subscription_id=sub.id, edition_date=day, secret=ctx.secret, domain=ctx.domain
        ),
        trending=[papers[i] for i in composed.trending if i in papers],
        for_you=[(papers[i], t) for i, t in composed.for_you if i in papers],
    )
    if out is None:
        text = message.get_body(preferencelist=("plain",))
        console.print(f"Subject: {message['Subject']}\nTo: {message['To']}\n", markup=False, highlight=False)
        console.print(text.get_content() if text is not None else "", markup=False, highlight=False)
        return
    if out.suffix.lower() in (".html", ".htm"):
        html = message.get_body(preferencelist=("html",))
        out.write_text(html.get_content() if html is not None else "", encoding="utf-8")
    else:
        out.write_bytes(to_bytes(message))
    console.print(f"Wrote {out}")


if __name__ == "__main__":
    digest_app()
