"""The app's ``db``, and what the extension found of each app's packages."""

from __future__ import annotations

from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from .discovery import DatabasePackages
from .errors import MigrationError

#: The Flask-SQLAlchemy instance of every app: the packages' models import it.
db = SQLAlchemy()

#: The key of the extension's state in ``app.extensions``.
STATE = "appfactory.sqlalchemy"


def database_packages(app: Flask) -> DatabasePackages:
    """What the packages of ``app`` bring to its database (``setup_app`` found it)."""
    found = app.extensions.get(STATE)
    if not isinstance(found, DatabasePackages):
        raise MigrationError(
            f"App {app.name!r} has no database packages: add 'appfactory.sqlalchemy' to "
            "its EXTENSIONS."
        )
    return found
