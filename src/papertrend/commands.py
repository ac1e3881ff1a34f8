"""What every room's commands share: the consoles, a migrated database, and option parsing.

Each room keeps its own commands beside its code (`ingest/cli.py`, `papers/cli.py`, `search/cli.py`,
`accounts/cli.py`, `digest/cli.py`); `cli.py` only assembles them (#11).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.config import Settings
from papertrend.db import create_engine
from papertrend.errors import InvalidPaperId
from papertrend.papers.ids import parse_arxiv_id
from papertrend.papers.models import Paper

console = Console()
err = Console(stderr=True)

DayOpt = Annotated[str | None, typer.Option(help="YYYY-MM-DD")]


@dataclass
class Ctx:
    settings: Settings
    engine: Engine


def open_ctx() -> Ctx:
    """Settings from the environment and a migrated database."""
    settings = Settings()
    engine = create_engine(settings.database_url)
    migrate.upgrade(engine)
    return Ctx(settings, engine)


def parse_day(value: str | None, *, option: str) -> date | None:
    """A YYYY-MM-DD option, or a usage error that names it."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option) from None


def paper_key(paper_id: str) -> str:
    """The canonical key of any id spelling; exit 2 with the reason for a string that is none."""
    try:
        return parse_arxiv_id(paper_id).key
    except InvalidPaperId as exc:
        err.print(exc.message, markup=False)
        raise typer.Exit(2) from None


def paper_json(p: Paper) -> dict[str, Any]:
    """Every stored field of a paper, JSON-ready."""
    return {
        k: (v.isoformat() if isinstance(v, date | datetime) else v) for k, v in dataclasses.asdict(p).items()
    }
