"""`papertrend embed`, `search` and `reindex`: embed new papers, search them, rebuild the keyword index."""

from __future__ import annotations

from typing import Annotated, cast

import orjson
import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from papertrend.commands import Ctx, DayOpt, console, err, open_ctx, paper_json, parse_day
from papertrend.db import reading
from papertrend.papers import repository
from papertrend.papers.models import authors_short
from papertrend.search import keyword
from papertrend.search.embed_job import BATCH, GPU_CLAIM, EmbedReport, embed_missing
from papertrend.search.embedder import Embedder, get_embedder
from papertrend.search.query import typed_paper_id
from papertrend.search.service import Searcher, searcher_from_settings
from papertrend.types import Filters, Hit, Mode, Sort


def load_embedder(
    ctx: Ctx, *, model: str | None = None, device: str | None = None, threads: int | None = None
) -> Embedder:
    """The configured (or named) model; exit 2 with the reason when it cannot load."""
    try:
        return get_embedder(
            model or ctx.settings.embedding_model,
            device=device or ctx.settings.embedding_device,
            threads=threads,
        )
    except (ValueError, RuntimeError) as exc:
        err.print(str(exc), markup=False, highlight=False)
        raise typer.Exit(2) from None


def embed_with_progress(
    ctx: Ctx,
    *,
    model: str | None = None,
    device: str | None = None,
    batch_size: int | None = None,
    limit: int | None = None,
    threads: int | None = None,
) -> EmbedReport:
    """Embed papers without a vector, with a progress bar and a summary line."""
    embedder = load_embedder(ctx, model=model, device=device, threads=threads)
    on_gpu = (device or ctx.settings.embedding_device) == "cuda"
    batch_size = batch_size or (GPU_CLAIM if on_gpu else BATCH)
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
            engine=ctx.engine,
            embedder=embedder,
            batch_size=batch_size,
            limit=limit,
            progress=progress,
            index_dir=ctx.settings.data_dir / "index",
            ann_threshold=ctx.settings.ann_threshold,
        )
    console.print(report.summary(), markup=False, highlight=False, soft_wrap=True)
    return report


def embed_command(
    model: Annotated[
        str | None, typer.Option(help="Embedding model (default: PAPERTREND_EMBEDDING_MODEL).")
    ] = None,
    device: Annotated[
        str | None, typer.Option(help="cpu or cuda (default: PAPERTREND_EMBEDDING_DEVICE).")
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, max=16384, help=f"Papers a claim (default: {BATCH}; {GPU_CLAIM} on cuda)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Embed at most this many papers.")] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for the model (default: every core).")
    ] = None,
) -> None:
    """Embed every paper that lacks a vector for the model; resumable, safe to interrupt, and shared:
    several processes, here or on other machines, split the backlog between them."""
    embed_with_progress(
        open_ctx(), model=model, device=device, batch_size=batch_size, limit=limit, threads=threads
    )


def searcher(ctx: Ctx) -> Searcher:
    """A searcher over the configured database and model."""
    return searcher_from_settings(settings=ctx.settings, engine=ctx.engine, embedder=load_embedder(ctx))


def print_hits(ctx: Ctx, hits: list[Hit], *, as_json: bool, snippet_chars: int = 220) -> None:
    """Ranked papers as a numbered list, or as JSON."""
    with reading(ctx.engine) as conn:
        found = {p.id: p for p in repository.get_many(conn=conn, paper_ids=[h.paper_id for h in hits])}
    if as_json:
        typer.echo(
            orjson.dumps(
                [{"score": h.score, **paper_json(found[h.paper_id])} for h in hits if h.paper_id in found]
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
        abstract = (
            p.abstract
            if len(p.abstract) <= snippet_chars
            else p.abstract[:snippet_chars].rsplit(" ", 1)[0] + " …"
        )
        console.print(f"{rank:>2}. [bold]{escape(p.title)}[/bold]", highlight=False)
        console.print(
            f"    {p.id} · {p.listing_day or ''} · {escape(authors_short(p.authors))} · score {h.score:.3f}",
            highlight=False,
        )
        console.print(f"    {escape(abstract)}", highlight=False)


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
    ctx = open_ctx()
    filters = Filters(
        since=parse_day(since, option="--since"),
        until=parse_day(until, option="--until"),
        categories=tuple(category or ()),
        authors=tuple(author or ()),
    )
    hits = searcher(ctx).search(
        query=query, mode=cast(Mode, mode), limit=limit, filters=filters, sort=cast(Sort, sort)
    )
    paper_id = typed_paper_id(query)
    if paper_id is not None and not hits and not as_json:
        # One line, whatever the terminal's width: it ends in a command to copy.
        typer.echo(
            f"arXiv:{paper_id} is not stored here; fetch it with: papertrend ingest arxiv-api --id {paper_id}"
        )
        return
    print_hits(ctx, hits, as_json=as_json)


def reindex_command(
    sync_only: Annotated[
        bool, typer.Option("--sync", help="Only catch up with changed papers instead of rebuilding.")
    ] = False,
) -> None:
    """Rebuild the keyword index of this host, and "did you mean"'s word counts, from the database (they
    are derived data, issue #15)."""
    ctx = open_ctx()
    index = keyword.open_index(engine=ctx.engine, data_dir=ctx.settings.data_dir)
    report = index.sync(engine=ctx.engine, full=not sync_only)
    if report is None:
        err.print("another process of this host is writing the keyword index; try again in a minute")
        raise typer.Exit(1)
    console.print(
        f"keyword index at {index.path}: {index.documents:,} papers; read {report.read:,}, "
        f"wrote {report.written:,}, deleted {report.deleted:,} in {report.seconds:.1f}s",
        highlight=False,
    )
