"""The ``"appfactory.sqlalchemy"`` entry of ``EXTENSIONS``: the app's ``db``, the
packages' models and migrations."""

from __future__ import annotations

import os

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from appfactory.core import add_check, add_inspection_hook, declare_settings

from .discovery import DatabasePackages, discover_packages

#: The Flask-SQLAlchemy instance of every app: the packages' models import it.
db = SQLAlchemy()

#: The key of this extension's state in ``app.extensions``.
STATE = "appfactory.sqlalchemy"


def setup_app(app: Flask) -> None:
    """Give ``app`` its database: ``db`` on it, every package's ``models`` imported
    in ``PACKAGES`` order, their migrations found, and the ``db`` commands.

    Alembic is not imported: only the ``db`` commands and ``check`` use it.
    """
    default = "sqlite:///" + os.path.join(app.instance_path, f"{app.name}.sqlite3")
    declare_settings(app, {"SQLALCHEMY_DATABASE_URI": default})
    db.init_app(app)
    app.extensions[STATE] = discover_packages(app, db.metadata)
    # Imported here: the commands module is small and imports Alembic only when run.
    from .checks import database_problems
    from .commands import db_group
    from .inspection import list_package_items

    app.cli.add_command(db_group)
    add_check(app, database_problems)
    add_inspection_hook(app, list_package_items)


def database_packages(app: Flask) -> DatabasePackages:
    """What the packages of ``app`` bring to its database (``setup_app`` found it)."""
    found = app.extensions.get(STATE)
    if not isinstance(found, DatabasePackages):
        from .errors import MigrationError

        raise MigrationError(
            f"App {app.name!r} has no database packages: add 'appfactory.sqlalchemy' to "
            "its EXTENSIONS."
        )
    return found
