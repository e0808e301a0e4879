"""The ``"appfactory.sqlalchemy"`` entry of ``EXTENSIONS``: the app's ``db``, the
packages' models and migrations, the ``db`` commands and the checks."""

from __future__ import annotations

import os

from flask import Flask

from appfactory.core import add_check, add_inspection_hook, declare_settings

from .checks import database_problems
from .commands import db_group
from .database import STATE, db
from .discovery import discover_packages
from .inspection import list_package_items


def setup_app(app: Flask) -> None:
    """Give ``app`` its database: ``db`` on it, every package's ``models`` imported
    in ``PACKAGES`` order, their migrations found, and the ``db`` commands.

    Alembic is not imported: only the ``db`` commands and ``check`` use it.
    The default database is a SQLite file in the instance folder.
    """
    default = "sqlite:///" + os.path.join(app.instance_path, f"{app.name}.sqlite3")
    declare_settings(app, {"SQLALCHEMY_DATABASE_URI": default})
    db.init_app(app)
    app.extensions[STATE] = discover_packages(app, db.metadata)
    app.cli.add_command(db_group)
    add_check(app, database_problems)
    add_inspection_hook(app, list_package_items)
