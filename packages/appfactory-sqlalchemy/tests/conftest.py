"""Fixtures of the appfactory-sqlalchemy tests: the test app ``migapp`` over the
packages of ``tests/dbapps`` (or packages a test writes), on SQLite or on a
PostgreSQL database of the test's own."""

from __future__ import annotations

import os
import typing as t
from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from flask import Flask

from appfactory.core import appfactory, clifactory

# Registered before anything imports them, so that pytest rewrites their asserts.
pytest_plugins = ["appfactory.core.testing", "pytester"]

#: The test apps' secret key (any text of 32 characters or more).
SECRET_KEY = "migapp-test-secret-key-0123456789abcdef"

DBAPPS = Path(__file__).parent / "dbapps"
#: The three packages: orders needs the accounts' user table.
PACKAGES = ["mig_orders", "mig_accounts", "mig_catalog"]
#: The server of the machine's PostgreSQL (trust authentication).
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/appfactory"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("filterwarnings", "error")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The test packages importable, an instance folder of the test, no MIGAPP_* variable."""
    for name in list(os.environ):
        if name.startswith(("MIGAPP_", "FLASK_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MIGAPP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.syspath_prepend(str(DBAPPS))
    return tmp_path / "instance"


def postgres_server() -> str:
    """The URL of the machine's PostgreSQL, or a skip (a failure under CI)."""
    from appfactory.core.testing.servers import unavailable

    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed: pip install 'psycopg[binary]' (nox installs it)")
    engine = sa.create_engine(POSTGRES.replace("/appfactory", "/postgres"), poolclass=sa.NullPool)
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        unavailable(f"no PostgreSQL answers on 127.0.0.1:5432: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> t.Iterator[str]:
    """An empty database of the test: a SQLite file, or a PostgreSQL database created
    for it and dropped after it."""
    from appfactory.sqlalchemy.testing import empty_database

    server = "sqlite://" if request.param == "sqlite" else postgres_server()
    with empty_database(server, tmp_path) as made:
        yield made


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'migapp.sqlite3'}"


def make_factory(url: str, packages: t.Sequence[str] = PACKAGES, **settings: t.Any) -> t.Any:
    def create_app(load: bool = True, **config: t.Any) -> Flask:
        return appfactory(
            "migapp",
            None,
            load=load,
            EXTENSIONS=["appfactory.sqlalchemy"],
            PACKAGES=list(packages),
            SQLALCHEMY_DATABASE_URI=url,
            SECRET_KEY=SECRET_KEY,
            TESTING=True,
            **{**settings, **config},
        )

    return create_app


class Run:
    """``run("db", "upgrade")``: the management command of ``migapp``, checked for its
    exit status."""

    def __init__(self, url: str, packages: t.Sequence[str], **settings: t.Any) -> None:
        self.url = url
        self.create_app = make_factory(url, packages, **settings)
        self.cli: click.Command = clifactory(self.create_app)

    def __call__(self, *args: str, code: int = 0) -> str:
        from appfactory.core.testing import AppCliRunner

        result = AppCliRunner(self.cli).invoke(args=list(args))
        assert result.exit_code == code, (result.output, result.exception)
        return result.output

    def tables(self) -> set[str]:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            return set(sa.inspect(engine).get_table_names())
        finally:
            engine.dispose()

    def versions(self) -> set[str]:
        engine = sa.create_engine(self.url, poolclass=sa.NullPool)
        try:
            with engine.connect() as connection:
                rows = connection.execute(sa.text("SELECT version_num FROM alembic_version"))
                return {row[0] for row in rows}
        finally:
            engine.dispose()


@pytest.fixture
def make_run() -> t.Callable[..., Run]:
    """``make_run(url, packages=PACKAGES, **settings)``: a :class:`Run` of ``migapp``."""

    def make(url: str, packages: t.Sequence[str] = PACKAGES, **settings: t.Any) -> Run:
        return Run(url, packages, **settings)

    return make


@pytest.fixture(autouse=True)
def forget_tables(isolated: Path) -> t.Iterator[None]:
    """Tables that a test's packages put on ``db.metadata`` leave it after the test
    (those of ``tests/dbapps``, imported once, stay)."""
    import importlib

    from appfactory.sqlalchemy import db

    for package in PACKAGES:
        importlib.import_module(f"{package}.models")
    before = set(db.metadata.tables)
    yield
    for name in set(db.metadata.tables) - before:
        db.metadata.remove(db.metadata.tables[name])


def revision_file(
    revision: str,
    down: str | None,
    upgrade: str,
    downgrade: str = "pass",
    label: str | None = None,
    depends_on: str | None = None,
) -> str:
    """The source of a revision file."""
    labels = f"({label!r},)" if label else "None"
    return (
        f'"""Revision {revision}."""\n\nimport sqlalchemy as sa\nfrom alembic import op\n\n'
        f"revision = {revision!r}\ndown_revision = {down!r}\nbranch_labels = {labels}\n"
        f"depends_on = {depends_on!r}\n\n\ndef upgrade():\n    {upgrade}\n\n\n"
        f"def downgrade():\n    {downgrade}\n"
    )


def table_model(table: str, extra: str = "") -> str:
    """A models module defining ``table`` on the app's metadata."""
    return (
        "import sqlalchemy as sa\nfrom appfactory.sqlalchemy import db\n\n"
        f"table = sa.Table({table!r}, db.metadata, sa.Column('id', sa.Integer, "
        f"primary_key=True){extra})\n"
    )


@pytest.fixture(autouse=True)
def dispose_engines() -> t.Iterator[None]:
    """Close the pooled connections of the apps a test made (the CLI's apps are not
    the test's to reach), before their databases are dropped."""
    yield
    from appfactory.sqlalchemy import db

    for engines in list(db._app_engines.values()):
        for engine in engines.values():
            engine.dispose()
