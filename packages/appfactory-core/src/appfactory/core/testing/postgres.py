"""A real PostgreSQL for tests: on 127.0.0.1:5432, else started here, else skipped.

A pytest plugin that suites enable when they need it (it is not part of
``appfactory.core.testing``'s default plugins)::

    pytest_plugins = ["appfactory.core.testing", "appfactory.core.testing.postgres"]

It gives the ``postgres_server`` and ``postgres_url`` fixtures and needs the
psycopg driver (version 3), which no distribution depends on.

The server on the usual port is used when it answers (user ``postgres``,
trust authentication); otherwise one is started from the installed binaries
(``/usr/lib/postgresql/*/bin``) in a temporary folder on a free loopback
port, and stopped at the end. Each test run gets a database of its own,
created at its start and dropped at its end. Without a server, the tests
that need one are skipped, or fail when ``CI`` is set.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import typing as t
import uuid
from dataclasses import dataclass

import pytest

from .servers import unavailable

LOOPBACK = "127.0.0.1"

#: The server of the machine, when it runs.
USUAL_PORT = 5432
USER = "postgres"


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(check: t.Callable[[], bool], seconds: float) -> bool:
    """Poll ``check`` until it holds or ``seconds`` pass."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def driver() -> t.Any:
    """psycopg (version 3), or a skip that says how to install it."""
    try:
        import psycopg
    except ImportError:
        unavailable("psycopg is not installed: pip install 'psycopg[binary]' (nox installs it)")
    return psycopg


def answers(port: int) -> bool:
    """Whether PostgreSQL on ``127.0.0.1:port`` lets ``postgres`` in."""
    try:
        with driver().connect(
            host=LOOPBACK, port=port, user=USER, dbname="postgres", connect_timeout=3
        ):
            return True
    except Exception:
        return False


@dataclass
class PostgresServer:
    """A PostgreSQL server; ``folder`` and ``binaries`` when this run started it."""

    port: int
    folder: str | None = None
    binaries: str | None = None

    def url(self, database: str) -> str:
        """A SQLAlchemy URL of ``database`` on this server."""
        return f"postgresql+psycopg://{USER}@{LOOPBACK}:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE/DROP DATABASE)."""
        with driver().connect(
            host=LOOPBACK, port=self.port, user=USER, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql)

    def stop(self) -> None:
        if self.folder is None or self.binaries is None:
            return
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            _run_as_owner(
                [os.path.join(self.binaries, "pg_ctl"), "stop", "-D", self.data, "-m", "fast"],
                timeout=60,
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def data(self) -> str:
        assert self.folder is not None
        return os.path.join(self.folder, "data")


def _owner() -> list[str]:
    """The command prefix that runs the server's programs: PostgreSQL refuses root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(USER)
    except KeyError:
        unavailable("running as root with no 'postgres' user: cannot start a PostgreSQL server")
    runuser = shutil.which("runuser")
    if runuser is None:
        unavailable("running as root without runuser: cannot start PostgreSQL as 'postgres'")
    return [runuser, "-u", USER, "--"]


def _run_as_owner(command: list[str], timeout: float) -> None:
    subprocess.run(
        [*_owner(), *command],
        check=True,
        timeout=timeout,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def start_postgres() -> PostgresServer:
    """The machine's server on 5432, else one started on a free port, else skip (fail in CI)."""
    driver()
    if answers(USUAL_PORT):
        return PostgresServer(USUAL_PORT)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    initdb = found[-1] if found else shutil.which("initdb")
    if initdb is None:
        unavailable(
            f"no PostgreSQL answers on {LOOPBACK}:{USUAL_PORT} and initdb is not installed "
            "(apt-get install postgresql), so no server can be started"
        )
    binaries = os.path.dirname(initdb)
    prefix = _owner()
    folder = tempfile.mkdtemp(prefix="appfactory-postgres-")
    port = free_port()
    server = PostgresServer(port, folder, binaries)
    if prefix:
        os.chmod(folder, 0o700)
        shutil.chown(folder, user=USER)
    try:
        _run_as_owner(
            [initdb, "-D", server.data, "-U", USER, "--auth=trust", "--no-sync"], timeout=120
        )
        options = f"-c listen_addresses={LOOPBACK} -p {port} -k {folder} -c fsync=off"
        _run_as_owner(
            [os.path.join(binaries, "pg_ctl"), "start", "-D", server.data, "-w",
             "-l", os.path.join(folder, "server.log"), "-o", options],
            timeout=120,
        )  # fmt: skip
    except (subprocess.SubprocessError, OSError) as exc:
        server.stop()
        error = getattr(exc, "stderr", b"") or b""
        unavailable(f"PostgreSQL could not be started from {binaries}: {exc} {error.decode()}")
    if not wait_until(lambda: answers(port), 30):
        server.stop()
        unavailable(f"the PostgreSQL started on port {port} did not answer within 30 s")
    return server


@pytest.fixture(scope="session")
def postgres_server() -> t.Iterator[PostgresServer]:
    """A PostgreSQL server for this test run."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer) -> t.Iterator[str]:
    """The SQLAlchemy URL of a database of this test run's own, dropped at its end."""
    name = f"appfactory_test_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f'CREATE DATABASE "{name}"')
    yield postgres_server.url(name)
    postgres_server.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
