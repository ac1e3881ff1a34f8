"""Shared fixtures: each test its own database (DESIGN §6.7), the recorded data, a replay server.

The suite runs on SQLite by default and on PostgreSQL with `pytest --db=postgres` (issue #6): then a
throwaway cluster is started for the session (tests/pgcluster.py), or the server named by
$PAPERTREND_TEST_POSTGRES_URL is used, and every test gets a fresh migrated database of its own through
the same `settings` / `engine` fixtures. Tests that check one database itself are marked
`sqlite_only` or `postgres_only` and deselected, by name in the summary, on the other.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import make_url
from sqlalchemy.engine import Engine

from papertrend.config import Settings
from papertrend.db import create_engine
from papertrend.migrate import upgrade
from tests.pgcluster import EXTERNAL_URL_ENV, Cluster
from tests.replay import ReplayServer

# Recorded responses and trimmed real data, carried by the repository (issue #11): tests/fixtures/README.md
# names each file's source and licence. The big sets are for bench/ only (its --data option).
FIXTURES = Path(__file__).resolve().parent / "fixtures"
_ONLY = {"sqlite": "postgres_only", "postgres": "sqlite_only"}
_deselected: list[str] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="database the suite runs on (issue #6); postgres starts a throwaway cluster on 127.0.0.1 "
        f"unless ${EXTERNAL_URL_ENV} names a server",
    )


def pytest_report_header(config: pytest.Config) -> str:
    db = config.getoption("--db")
    where = f"${EXTERNAL_URL_ENV}" if os.environ.get(EXTERNAL_URL_ENV) else "a throwaway cluster"
    return f"database: {db}" + (f" ({where})" if db == "postgres" else "")


# A test that asks for none of these never touches the run's database: it would run the same code
# twice, so the PostgreSQL run leaves it to the SQLite run (and says how many it left).
_DB_FIXTURES = frozenset({"settings", "engine", "new_database_url", "pg_cluster"})
_database_free: list[str] = []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect, never skip quietly, the tests that check the other database itself; on PostgreSQL
    also those that use no database at all."""
    db = config.getoption("--db")
    marker = _ONLY[db]
    keep: list[pytest.Item] = []
    gone: list[pytest.Item] = []
    for item in items:
        if item.get_closest_marker(marker) is not None:
            gone.append(item)
            _deselected.append(item.nodeid)
        elif db == "postgres" and _DB_FIXTURES.isdisjoint(getattr(item, "fixturenames", ())):
            gone.append(item)
            _database_free.append(item.nodeid)
        else:
            keep.append(item)
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    db = config.getoption("--db")
    if _deselected:
        terminalreporter.section(f"deselected on {db}: {_ONLY[db]}")
        for nodeid in _deselected:
            terminalreporter.write_line(nodeid)
    if _database_free:
        files: dict[str, int] = {}
        for nodeid in _database_free:
            files[nodeid.split("::")[0]] = files.get(nodeid.split("::")[0], 0) + 1
        terminalreporter.section(f"deselected on {db}: {len(_database_free)} tests that use no database")
        terminalreporter.write_line("(they run in the SQLite run; per file:)")
        for path, n in files.items():
            terminalreporter.write_line(f"{path}: {n}")


@pytest.fixture(scope="session")
def db_backend(request: pytest.FixtureRequest) -> str:
    """ "sqlite" or "postgres": what `--db` chose."""
    return str(request.config.getoption("--db"))


@pytest.fixture(scope="session")
def pg_cluster(db_backend: str) -> Iterator[Cluster | None]:
    """The PostgreSQL server of a `--db=postgres` run (None on SQLite), stopped at the end."""
    if db_backend != "postgres":
        yield None
        return
    external = os.environ.get(EXTERNAL_URL_ENV)
    cluster = Cluster.external(external) if external else Cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def new_database_url(pg_cluster: Cluster | None, tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Make a fresh database on the run's backend: `new_database_url(name)` → its URL.

    On SQLite a file named `name` in tmp_path, not migrated; on PostgreSQL a database copied from the
    migrated template (so already at head), dropped after the test.
    """
    made: list[str] = []

    def make(name: str) -> str:
        if pg_cluster is None:
            return f"sqlite:///{tmp_path / name}.db"
        url = pg_cluster.create_database()
        made.append(url)
        return url

    yield make
    if pg_cluster is not None:
        for url in made:
            pg_cluster.drop(str(make_url(url).database))


@pytest.fixture(scope="session")
def fixture_data() -> Path:
    """tests/fixtures: the recorded responses and data samples the tests read."""
    return FIXTURES


@pytest.fixture
def settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_database_url: Callable[[str], str]
) -> Settings:
    """Settings for a throwaway install in tmp_path; also exported for CLI runs in-process."""
    env = {
        "PAPERTREND_ENV": "test",
        "PAPERTREND_DATABASE_URL": new_database_url("papertrend"),
        "PAPERTREND_DATA_DIR": str(tmp_path),
        "PAPERTREND_MAIL_URL": f"maildir://{tmp_path / 'mail'}",
        # Tests change the database behind the app's back and look at the next page at once; the
        # page cache (papertrend.web.pagecache) would rightly show the old one. Its own tests turn it on.
        "PAPERTREND_PAGE_CACHE_SECONDS": "0",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings()


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """A migrated database of the test's own (SQLite, or PostgreSQL with `--db=postgres`)."""
    eng = create_engine(settings.database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    """A local HTTP server replaying recorded responses."""
    server = ReplayServer().start()
    yield server
    server.stop()
