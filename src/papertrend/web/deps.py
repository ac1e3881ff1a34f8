"""What a request may need, as named FastAPI dependencies (DESIGN §6.4, #11).

All state lives on `app.state.papertrend` (an `AppState`), never in module globals, so tests build as
many independent apps as they like.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, cast

import jinja2
from fastapi import Depends, Request
from sqlalchemy.engine import Connection, Engine

from papertrend.config import Settings
from papertrend.db import reading
from papertrend.errors import BadRequest
from papertrend.rank import TrendParams
from papertrend.web.cookies import require_csrf

if TYPE_CHECKING:
    # Only a type here: search_holder imports the templating helpers, which import this room.
    from papertrend.web.search_holder import SearchHolder


@dataclass
class AppState:
    """Everything a request may need, built once per app."""

    settings: Settings
    engine: Engine
    templates: jinja2.Environment
    search: SearchHolder
    trend: TrendParams
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    owns_engine: bool = False
    # Derived data a process keeps for a while, by key (e.g. "For you"'s background sample, #13).
    caches: dict[object, tuple[float, Any]] = field(default_factory=dict)


def get_state(request: Request) -> AppState:
    """The app's state."""
    return cast(AppState, request.app.state.papertrend)


StateDep = Annotated[AppState, Depends(get_state)]


def get_conn(state: StateDep) -> Iterator[Connection]:
    """A read connection for the request; pages never write (GET changes nothing)."""
    with reading(state.engine) as conn:
        yield conn


ConnDep = Annotated[Connection, Depends(get_conn)]


def get_settings(state: StateDep) -> Settings:
    """The app's settings."""
    return state.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]

# Every route that changes data from a form lists this in `dependencies=[CSRF]` (issue #4).
CSRF = Depends(require_csrf)


def refuse_nul(request: Request) -> None:
    """A 400 for a path holding a NUL, whatever the route: no name, id or token has one, and
    PostgreSQL's text cannot hold it (`/authors/%00` was a 500 there; a fuzz of every GET route).
    Query parameters are each checked by their own rules (a search drops control characters)."""
    if "\x00" in request.scope.get("path", ""):
        raise BadRequest("the address holds a NUL character")
