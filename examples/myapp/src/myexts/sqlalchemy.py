"""The example's database: Flask-SQLAlchemy, as in the original tutorial's step 2.

One ``db`` for the whole application; every package's ``models`` module is
imported so that its tables are known; ``myapp initdb`` creates them.
"""

from __future__ import annotations

import os
import typing as t

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_sqlalchemy import SQLAlchemy

from appfactory.core import (
    ConfigError,
    Option,
    declare_settings,
    describe_exception,
    discover_modules,
    mask_url,
)

#: The database of every app that lists ``myexts.sqlalchemy`` in ``EXTENSIONS``.
db = SQLAlchemy()


def setup_app(app: Flask) -> None:
    """Enable the database on ``app``: a SQLite file in the instance folder unless
    ``SQLALCHEMY_DATABASE_URI`` names another database."""
    default = "sqlite:///" + os.path.join(app.instance_path, f"{app.name}.sqlite3")
    declare_settings(
        app,
        [Option("SQLALCHEMY_DATABASE_URI", default, str, doc="The URL of the app's database.")],
    )
    try:
        db.init_app(app)  # makes the engine, does not connect
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"SQLALCHEMY_DATABASE_URI {database_url(app)} needs the module {exc.name!r}: "
            "install the database's driver (PostgreSQL: pip install 'psycopg[binary]')."
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"SQLALCHEMY_DATABASE_URI {database_url(app)} is not a database URL SQLAlchemy "
            "can use: set it to, for example, postgresql+psycopg://user@host/name."
        ) from exc
    with app.app_context():
        sa.event.listen(db.engine, "do_connect", private_sqlite_file)
    discover_modules(app, "models")
    app.cli.add_command(initdb)


def database_url(app: Flask) -> str:
    """The app's database URL as it may be shown: its password masked."""
    return repr(mask_url(str(app.config["SQLALCHEMY_DATABASE_URI"])))


def private_sqlite_file(
    dialect: sa.Dialect, _record: object, cargs: list[t.Any], _params: object
) -> None:
    """Create a new SQLite file readable by its owner only, before SQLite creates it."""
    path = cargs[0] if dialect.name == "sqlite" and cargs else ""
    if not isinstance(path, str) or path in ("", ":memory:") or path.startswith("file:"):
        return
    if not os.path.exists(path):
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


@click.command()
@with_appcontext
def initdb() -> None:
    """Create the tables of every package's models."""
    try:
        db.create_all()
    except (sa.exc.SQLAlchemyError, OSError) as exc:
        reason = mask_url(describe_exception(exc))
        raise ConfigError(
            f"Cannot create the tables in {database_url(current_app)} ({reason}). Check "
            "SQLALCHEMY_DATABASE_URI and that the database (or its folder) exists."
        ) from exc
    click.echo(f"Tables: {', '.join(sorted(db.metadata.tables))}")
