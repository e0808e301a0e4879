"""The example's database: Flask-SQLAlchemy, as in the original tutorial's step 2.

One ``db`` for the whole application; every package's ``models`` module is
imported so that its tables are known; ``myapp initdb`` creates them.
"""

from __future__ import annotations

import os

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import with_appcontext
from flask_sqlalchemy import SQLAlchemy

from appfactory.core import Option, declare_settings, discover_modules

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
    db.init_app(app)
    with app.app_context():
        sa.event.listen(db.engine, "do_connect", _private_sqlite_file)
    discover_modules(app, "models")
    app.cli.add_command(initdb)


def _private_sqlite_file(dialect: sa.Dialect, _record: object, cargs: list[object], _cparams: object) -> None:
    """Create a SQLite database file readable by its owner only, before SQLite does."""
    if dialect.name != "sqlite" or not cargs or not isinstance(cargs[0], str):
        return
    path = cargs[0]
    if path in ("", ":memory:") or path.startswith("file:") or os.path.exists(path):
        return
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))


@click.command()
@with_appcontext
def initdb() -> None:
    """Create the tables of every package's models."""
    db.create_all()
    click.echo(f"Tables: {', '.join(sorted(db.metadata.tables))}")
