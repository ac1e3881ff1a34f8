"""`papertrend users list | delete | purge` (issue #4, part 2): the operator's view of accounts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import Engine

from papertrend import migrate
from papertrend.accounts import repository as repo
from papertrend.addresses import InvalidEmail, normalize_email
from papertrend.config import Settings
from papertrend.db import create_engine, reading, transaction

users_app = typer.Typer(no_args_is_help=True, help="Accounts made by signing in: list, delete, purge.")
console = Console()
err = Console(stderr=True)


def _engine() -> Engine:
    """The configured database, migrated."""
    engine = create_engine(Settings().database_url)
    migrate.upgrade(engine)
    return engine


@users_app.command("list")
def users_list() -> None:
    """Every user: address, when they joined and last signed in, live sessions, votes."""
    engine = _engine()
    with reading(engine) as conn:
        rows = repo.list_users(conn=conn)
    table = Table("id", "email", "joined", "last sign-in", "sessions", "votes")
    for user, n_sessions, n_votes in rows:
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "—"
        table.add_row(
            str(user.id), user.email, f"{user.created_at:%Y-%m-%d}", last, str(n_sessions), str(n_votes)
        )
    console.print(table)
    console.print(f"{len(rows)} users")


def _key(email: str) -> str:
    """An address typed here, keyed as sign-in keyed it (a stored address that no longer passes
    today's rules is still found by its own spelling)."""
    try:
        return normalize_email(email).key
    except InvalidEmail:
        return email


@users_app.command("delete")
def users_delete(
    email: str,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a user with their sessions (signed out at once) and their votes."""
    engine = _engine()
    with reading(engine) as conn:
        user = repo.get_user_by_email(conn=conn, email=_key(email))
    if user is None:
        err.print(f"no user {email}")
        raise typer.Exit(1)
    if not yes and not typer.confirm(f"Delete {user.email} with their sessions and votes?"):
        raise typer.Exit(1)
    with transaction(engine) as conn:
        repo.delete_user(conn=conn, user_id=user.id)
    console.print(f"deleted {user.email}")


@users_app.command("purge")
def users_purge() -> None:
    """Delete expired sign-in links and sessions (they grant nothing; this only saves space)."""
    engine = _engine()
    with transaction(engine) as conn:
        gone = repo.purge_expired(conn=conn, now=datetime.now(UTC))
    console.print(f"{gone} expired links and sessions deleted")
