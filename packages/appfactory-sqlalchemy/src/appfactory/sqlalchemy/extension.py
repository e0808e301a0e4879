"""The ``"appfactory.sqlalchemy"`` entry of ``EXTENSIONS``: the app's ``db``, the
packages' models and migrations, the ``db`` commands and the checks."""

from __future__ import annotations

import os
import typing as t

from flask import Flask

import sqlalchemy as sa
from appfactory.core import (
    ConfigError,
    Option,
    add_check,
    add_inspection_hook,
    declare_settings,
    mask_url,
)

from .checks import database_problems
from .commands import db_group
from .database import STATE, db
from .discovery import discover_packages
from .inspection import list_package_items


def setup_app(app: Flask) -> None:
    """Give ``app`` its database: ``db`` on it, every package's ``models`` imported
    in ``PACKAGES`` order, their migrations found, and the ``db`` commands.

    Alembic is not imported: only the ``db`` commands and ``check`` use it.
    The default database is a SQLite file in the instance folder, created at the
    first connection (``db upgrade``) and readable by its owner only.
    """
    default = "sqlite:///" + os.path.join(app.instance_path, f"{app.name}.sqlite3")
    declare_settings(
        app,
        [Option("SQLALCHEMY_DATABASE_URI", default, str, doc="The URL of the app's database.")],
    )
    try:
        db.init_app(app)  # makes the engine, does not connect
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"SQLALCHEMY_DATABASE_URI {_shown_url(app)} needs the module {exc.name!r}: "
            "install the database's driver (PostgreSQL: pip install 'psycopg[binary]')."
        ) from exc
    except sa.exc.ArgumentError as exc:
        raise ConfigError(
            f"SQLALCHEMY_DATABASE_URI {_shown_url(app)} is not a database URL SQLAlchemy "
            "can use: set it to, for example, postgresql+psycopg://user@host/name."
        ) from exc
    with app.app_context():
        if not sa.event.contains(db.engine, "do_connect", private_sqlite_file):
            sa.event.listen(db.engine, "do_connect", private_sqlite_file)
    app.extensions[STATE] = discover_packages(app, db.metadata)
    app.cli.add_command(db_group)
    add_check(app, database_problems)
    add_inspection_hook(app, list_package_items)


def _shown_url(app: Flask) -> str:
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
