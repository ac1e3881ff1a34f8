"""A throwaway PostgreSQL cluster for `pytest --db=postgres` (issue #6).

The suite starts its own server from the installed binaries (`.ci/postgres.sh` installs PostgreSQL 15
with pgvector): a fresh data directory in /tmp, listening on 127.0.0.1 and a free port only, durability
off (fsync, synchronous_commit, full_page_writes) because every byte is thrown away at the end.
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user (runuser).
Each test gets its own database, copied from one migrated template (`CREATE DATABASE … TEMPLATE`),
which takes milliseconds where running the migrations takes about a second.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from papertrend.db import create_engine
from papertrend.migrate import upgrade

# Set to use a server of your own instead: a role that may CREATE DATABASE, on a server with pgvector
# installed, e.g. postgresql+psycopg://papertrend:secret@127.0.0.1:5432/postgres.
EXTERNAL_URL_ENV = "PAPERTREND_TEST_POSTGRES_URL"
BINDIR_ENV = "PAPERTREND_TEST_PG_BINDIR"


def find_bindir() -> Path:
    """Where initdb and pg_ctl are: $PAPERTREND_TEST_PG_BINDIR, else Debian's newest, else PATH."""
    if os.environ.get(BINDIR_ENV):
        return Path(os.environ[BINDIR_ENV])
    debian = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if debian:
        return debian[-1].parent
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise RuntimeError(
        "PostgreSQL binaries not found: run `bash .ci/postgres.sh` (Debian) or set "
        f"{BINDIR_ENV}, or point {EXTERNAL_URL_ENV} at a server of your own"
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    """A server the suite may create and drop databases on; started here or someone else's."""

    admin_url: sa.URL
    datadir: Path | None = None
    bindir: Path | None = None
    user: str | None = None
    template: str = field(default_factory=lambda: f"papertrend_template_{os.getpid()}")
    _admin: sa.Engine | None = None

    @classmethod
    def start(cls) -> Cluster:
        """initdb and start a cluster on 127.0.0.1 and a free port, then migrate the template."""
        bindir = find_bindir()
        datadir = Path(tempfile.mkdtemp(prefix="papertrend-pg-"))
        user = "postgres" if os.geteuid() == 0 else None
        if user:
            entry = pwd.getpwnam(user)
            os.chown(datadir, entry.pw_uid, entry.pw_gid)
        port = _free_port()
        cluster = cls(
            admin_url=sa.URL.create(
                "postgresql+psycopg", username="postgres", host="127.0.0.1", port=port, database="postgres"
            ),
            datadir=datadir,
            bindir=bindir,
            user=user,
        )
        pgdata = str(datadir / "data")
        cluster._run("initdb", "-D", pgdata, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        options = (
            f"-h 127.0.0.1 -p {port} -k {datadir} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        cluster._run("pg_ctl", "-D", pgdata, "-l", str(datadir / "server.log"), "-w", "-t", "60",
                     "-o", options, "start")  # fmt: skip
        cluster.migrate_template()
        return cluster

    @classmethod
    def external(cls, url: str) -> Cluster:
        """A server named by $PAPERTREND_TEST_POSTGRES_URL: only the suite's own databases are touched."""
        cluster = cls(admin_url=sa.make_url(url))
        cluster.migrate_template()
        return cluster

    def _run(self, program: str, *args: str) -> None:
        assert self.bindir is not None
        cmd = [str(self.bindir / program), *args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.datadir / "server.log" if self.datadir else None
            tail = log.read_text()[-4000:] if log and log.exists() else ""
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}\n{tail}")

    @property
    def admin(self) -> sa.Engine:
        if self._admin is None:
            self._admin = sa.create_engine(
                self.admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool
            )
        return self._admin

    def url(self, database: str) -> str:
        """The URL of one database on this server, password included."""
        return self.admin_url.set(database=database).render_as_string(hide_password=False)

    def migrate_template(self) -> None:
        """(Re)create the template database and run every migration on it, once a session."""
        self.drop(self.template)
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{self.template}"')
        engine = create_engine(self.url(self.template))
        try:
            upgrade(engine)
        finally:
            engine.dispose()  # CREATE DATABASE … TEMPLATE needs the template to have no connections

    def create_database(self) -> str:
        """A fresh, migrated database of its own; returns its URL."""
        name = f"papertrend_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as conn:
            # FILE_COPY: 0.16 s a database against 0.31 s for PostgreSQL 15's default WAL_LOG here.
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY')
        return self.url(name)

    def drop(self, database: str) -> None:
        """Drop a database, closing whatever a test left connected to it."""
        with self.admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def stop(self) -> None:
        """Drop the template; stop and delete a cluster this process started."""
        try:
            self.drop(self.template)
        finally:
            if self._admin is not None:
                self._admin.dispose()
            if self.datadir is not None:
                try:
                    self._run("pg_ctl", "-D", str(self.datadir / "data"), "-m", "fast", "-w", "stop")
                finally:
                    shutil.rmtree(self.datadir, ignore_errors=True)
