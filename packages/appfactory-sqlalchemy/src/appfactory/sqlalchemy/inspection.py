"""What ``myapp packages`` shows of each package: its tables and migration head."""

from __future__ import annotations

from flask import Flask

from appfactory.core import add_package_items

from .database import database_packages
from .errors import MigrationError

_LISTED = "appfactory.sqlalchemy.listed"


def list_package_items(app: Flask) -> None:
    """Add ``tables`` and ``migrations`` to each package's entry, once per app."""
    if app.extensions.get(_LISTED):
        return
    app.extensions[_LISTED] = True
    found = database_packages(app)
    from .migrations import Migrations

    try:
        branches = Migrations(app).branches
    except MigrationError:
        branches = None
    for name, package in found.packages.items():
        if package.tables:
            add_package_items(app, name, "tables", package.tables)
        if branches is None:
            add_package_items(app, name, "migrations", ["cannot be read (see myapp check)"])
        elif name in branches:
            heads = branches[name].heads
            add_package_items(app, name, "migrations", [f"head {h}" for h in heads] or ["none"])
