"""A small database extension on SQLite from the standard library.

It shows what an extension does: set defaults without overwriting the app's
settings, load one more module (``models``) from every package, and add a
command.
"""

import os
import sqlite3

import click
from flask import Flask, current_app, g
from flask.cli import with_appcontext

from appfactory.core import discover_modules


def setup_app(app: Flask) -> None:
    """Enable the database on ``app``."""
    app.config.setdefault("DATABASE_PATH", os.path.join(app.instance_path, f"{app.name}.sqlite3"))
    schemas = []
    for module in discover_modules(app, "models"):
        if not isinstance(getattr(module, "SCHEMA", None), str):
            raise TypeError(f"{module.__name__} must define SCHEMA, a string of SQL.")
        schemas.append(module.SCHEMA)
    app.extensions["database"] = schemas
    app.teardown_appcontext(close_connection)
    app.cli.add_command(initdb)


def connection() -> sqlite3.Connection:
    """The database connection of the current app context."""
    if "database" not in g:
        g.database = sqlite3.connect(current_app.config["DATABASE_PATH"])
    database: sqlite3.Connection = g.database
    return database


def close_connection(_exc: BaseException | None = None) -> None:
    """Close the connection when the app context ends."""
    database = g.pop("database", None)
    if database is not None:
        database.close()


@click.command()
@with_appcontext
def initdb() -> None:
    """Create the tables of every package."""
    database = connection()
    for schema in current_app.extensions["database"]:
        database.executescript(schema)
    database.commit()
    tables = database.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    click.echo(f"Tables: {', '.join(sorted(name for (name,) in tables))}")
