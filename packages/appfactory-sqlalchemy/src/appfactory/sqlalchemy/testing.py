"""A pytest plugin: one empty database per test run, upgraded to head once, and each
test in a transaction rolled back at its end.

Enable it with appfactory-core's, and say which app to test::

    pytest_plugins = ["appfactory.core.testing", "appfactory.sqlalchemy.testing"]


    @pytest.fixture(scope="session")
    def create_app():
        return myapp.app.create_app

The database is a SQLite file of the run, unless the test configuration names a
server: ``database_url = postgresql+psycopg://user@host/name`` in ``pytest.ini``
(or ``--database-url``, or the ``APPFACTORY_TEST_DATABASE_URL`` variable); a
database ``<name>_test_<random>`` is then created on that server for the run and
dropped at its end.

Fixtures: ``database_url``, ``database_app``, ``db_session``.
"""

from __future__ import annotations

import contextlib
import os
import re
import typing as t
import uuid

import pytest
from flask import Flask

import sqlalchemy as sa
from appfactory.core import load_application
from appfactory.core.testing import SECRET_KEY, discover_app_name, isolated_environment

from .database import db

#: The ini option (``database_url = <URL>``) that names the test database's server;
#: ``--database-url`` on the command line.
OPTION = "database_url"
#: The environment variable that names it, when neither option does.
VARIABLE = "APPFACTORY_TEST_DATABASE_URL"

__all__ = ["OPTION", "VARIABLE", "empty_database"]


def pytest_addoption(parser: pytest.Parser) -> None:
    help_text = (
        "SQLAlchemy URL of the server on which each test run gets an empty database "
        "(default: a SQLite file of the run)"
    )
    parser.addini(OPTION, help_text)
    parser.addoption("--database-url", dest=OPTION, default=None, help=help_text)


@contextlib.contextmanager
def empty_database(url: str | sa.URL, folder: str | os.PathLike[str]) -> t.Iterator[str]:
    """An empty database named after ``url``, dropped at the end.

    SQLite: a new file in ``folder``. A server (PostgreSQL, MySQL): a database
    ``<name>_test_<random>`` created there, and dropped even when connections
    are left.

    >>> import tempfile
    >>> from appfactory.sqlalchemy.testing import empty_database
    >>> with empty_database("sqlite://", tempfile.mkdtemp()) as url:
    ...     url.startswith("sqlite:///")
    True
    """
    url = sa.make_url(url)
    if url.get_backend_name() == "sqlite":
        name = f"test_{uuid.uuid4().hex[:12]}.sqlite3"
        yield url.set(database=os.path.join(os.fspath(folder), name)).render_as_string(False)
        return
    name = f"{url.database or 'appfactory'}_test_{uuid.uuid4().hex[:12]}"
    if not re.fullmatch(r"\w+", name):
        raise ValueError(f"Database name {name!r} is not plain letters, digits and '_'.")
    server = sa.create_engine(
        url.set(database="postgres" if url.get_backend_name() == "postgresql" else None),
        isolation_level="AUTOCOMMIT",
        poolclass=sa.NullPool,
    )
    try:
        with server.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        try:
            yield url.set(database=name).render_as_string(False)
        finally:
            force = " WITH (FORCE)" if url.get_backend_name() == "postgresql" else ""
            with server.connect() as connection:
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"{force}')
    finally:
        server.dispose()


@pytest.fixture(scope="session")
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> t.Iterator[str]:
    """The URL of this test run's empty database (see the module's docstring)."""
    named = (
        request.config.getoption(OPTION)
        or request.config.getini(OPTION)
        or os.environ.get(VARIABLE)
        or "sqlite://"
    )
    with empty_database(named, tmp_path_factory.mktemp("database")) as url:
        yield url


@pytest.fixture(scope="session")
def database_app(
    create_app: t.Callable[..., Flask],
    database_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> t.Iterator[Flask]:
    """The app on :func:`database_url`, every package's migrations upgraded to head once."""
    from .migrations import Migrations

    prefix = re.sub(r"[^A-Z]", "", discover_app_name(create_app).upper())
    with isolated_environment(prefix, tmp_path_factory.mktemp("instance")):
        app = load_application(
            create_app(TESTING=True, SECRET_KEY=SECRET_KEY, SQLALCHEMY_DATABASE_URI=database_url)
        )
        with app.app_context():
            Migrations(app).upgrade()
            if db.engine.dialect.name == "sqlite":
                _sqlite_savepoints(db.engine)
        yield app
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def db_session(database_app: Flask) -> t.Iterator[t.Any]:
    """``db.session`` in an app context, in a transaction rolled back after the test.

    The test's own ``commit()`` calls release savepoints inside that transaction,
    so that nothing a test writes is seen by the next.
    """
    with database_app.app_context():
        engines = t.cast(dict[str | None, t.Any], db.engines)
        saved = dict(engines)
        with db.engine.connect() as connection:
            transaction = connection.begin()
            for key in engines:
                engines[key] = connection
            db.session.remove()
            db.session.configure(join_transaction_mode="create_savepoint")
            try:
                yield db.session
            finally:
                db.session.remove()
                db.session.configure(join_transaction_mode="conditional_savepoint")
                engines.update(saved)
                transaction.rollback()


def _sqlite_savepoints(engine: sa.Engine) -> None:
    """Let SQLite's driver leave BEGIN and SAVEPOINT to SQLAlchemy, as savepoints need."""

    @sa.event.listens_for(engine, "connect")
    def _connect(dbapi_connection: t.Any, _record: t.Any) -> None:
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql("BEGIN")

    engine.dispose()
