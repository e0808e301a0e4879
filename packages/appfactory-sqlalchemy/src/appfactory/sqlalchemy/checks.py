"""Problems that ``myapp check`` reports about the packages' tables and migrations."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

import sqlalchemy as sa
from appfactory.core import Check, Level, Problem, check_table, mask_url

from .database import database_packages, db
from .errors import MigrationError

#: The checks of appfactory-sqlalchemy, by id (the checks reference documents each).
CHECKS = check_table(
    Check(
        "AF401",
        "models-without-migrations",
        Level.WARNING,
        "Package {package!r} defines table(s) {tables} but has no migrations; no "
        "'db upgrade' creates them.",
        "Start its migrations: myapp db revision --package {package} -m 'Create tables'.",
        "a package has models but no migrations",
    ),
    Check(
        "AF402",
        "migrations-not-applied",
        Level.WARNING,
        "The migrations of package {package!r} are not applied to {database}: head(s) "
        "{heads} missing.",
        "Run: myapp db upgrade",
        "a package's migration head is not applied to the database",
    ),
    Check(
        "AF403",
        "table-defined-twice",
        Level.ERROR,
        "Table {table!r} is defined by packages {packages}; their models and migrations "
        "would fight over it.",
        "Give each table one owner: rename one (__tablename__), or drop a package.",
        "two packages define the same table",
    ),
    Check(
        "AF404",
        "migrations-several-heads",
        Level.ERROR,
        "The migrations of package {package!r} have {count} heads ({heads}); a new "
        "revision has no single parent.",
        "Merge them: a revision in {folder} with down_revision = {merge} (and pass).",
        "a package's migrations have several heads",
    ),
    Check(
        "AF405",
        "migrations-unreadable",
        Level.ERROR,
        "{error}",
        "Fix the revision file named, then run myapp check again.",
        "the packages' migrations cannot be read",
    ),
)


def database_problems(app: Flask) -> list[Problem]:
    """Tables of two packages, models without migrations, several heads, heads not applied."""
    found = database_packages(app)
    problems = []
    for table, owners in sorted(found.table_owners().items()):
        if len(owners) > 1:
            names = " and ".join(repr(owner) for owner in owners)
            problems.append(CHECKS["AF403"].problem(table=table, packages=names))
    from .migrations import Migrations

    try:
        migrations = Migrations(app)
    except MigrationError as exc:
        return [*problems, CHECKS["AF405"].problem(error=str(exc))]
    for name, package in found.packages.items():
        branch = migrations.branches.get(name)
        if package.tables and (branch is None or not branch.revisions):
            tables = ", ".join(repr(table) for table in package.tables)
            problems.append(CHECKS["AF401"].problem(package=name, tables=tables))
    for name, branch in migrations.branches.items():
        if len(branch.heads) > 1:
            problems.append(
                CHECKS["AF404"].problem(
                    package=name,
                    count=len(branch.heads),
                    heads=", ".join(branch.heads),
                    folder=migrations.folders[name],
                    merge=branch.heads,
                )
            )
    return problems + _pending(app, migrations)


def _pending(app: Flask, migrations: object) -> list[Problem]:
    """AF402 for each package whose heads are not all applied, when the database answers."""
    from .migrations import Migrations

    assert isinstance(migrations, Migrations)
    with app.app_context():
        url = db.engine.url
        database = repr(url.render_as_string(hide_password=True))
        if _missing_sqlite_file(url):
            pending = {name: list(b.heads) for name, b in migrations.branches.items() if b.heads}
        else:
            try:
                with migrations.connect() as job:
                    pending = migrations.pending(job.connection)
            except sa.exc.OperationalError:
                return []  # Not reachable from here: nothing can be said about it.
            finally:
                db.engine.dispose()
    return [
        CHECKS["AF402"].problem(package=name, database=mask_url(database), heads=", ".join(heads))
        for name, heads in pending.items()
    ]


def _missing_sqlite_file(url: sa.URL) -> bool:
    """Whether ``url`` names a SQLite file that does not exist (not created by a check)."""
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return False
    return not Path(str(url.database)).exists()
