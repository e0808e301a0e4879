"""``myapp db``: upgrade, downgrade, current, history and revision, per package.

Alembic is imported when a command runs, not when the group is listed.
"""

from __future__ import annotations

import contextlib
import typing as t

import click
from flask import current_app
from flask.cli import with_appcontext

from appfactory.core import ConfigError, describe_exception, mask_url

if t.TYPE_CHECKING:
    from .migrations import Migrations


@contextlib.contextmanager
def _migrations() -> t.Iterator[Migrations]:
    """The app's migrations; the connections they opened are closed at the end.

    A database that cannot be reached (server down, no such database, SQLite
    folder missing) is a one-line error naming ``SQLALCHEMY_DATABASE_URI``.
    """
    import sqlalchemy as sa

    from .database import db
    from .migrations import Migrations

    try:
        yield Migrations(current_app._get_current_object())  # type: ignore[attr-defined]
    except (sa.exc.OperationalError, sa.exc.InterfaceError, OSError) as exc:
        url = repr(mask_url(db.engine.url.render_as_string(hide_password=True)))
        raise ConfigError(
            f"Cannot reach the database {url} ({mask_url(describe_exception(exc))}). Check "
            "SQLALCHEMY_DATABASE_URI and that the database (or its folder) exists."
        ) from exc
    finally:
        db.engine.dispose()


@click.group("db")
def db_group() -> None:
    """The database: each package's migrations (Alembic branches)."""


@db_group.command()
@click.option("--package", "-p", help="Upgrade this package (after those it depends on).")
@click.argument("revision", required=False)
@with_appcontext
def upgrade(package: str | None, revision: str | None) -> None:
    """Upgrade every package's migrations to their head, dependencies first.

    With --package, that package only (and those it depends on); with
    REVISION, up to that revision.
    """
    if package and revision:
        raise click.UsageError("Give --package or REVISION, not both.")
    with _migrations() as migrations:
        if not migrations.folders:
            click.echo("No package has migrations.")
            return
        applied = migrations.upgrade(package, revision)
        with migrations.connect() as job:
            current = migrations.current(job.connection)
        click.echo(f"Applied {len(applied)} revision(s).")
        for name, rev in current.items():
            click.echo(f"{name}: {rev or 'base'}")


@db_group.command()
@click.option("--package", "-p", required=True, help="The package whose migrations go down.")
@click.argument("target", default="-1")
@with_appcontext
def downgrade(package: str, target: str) -> None:
    """Downgrade one package's migrations: one revision (default), to TARGET, or
    to 'base' (its tables dropped)."""
    with _migrations() as migrations:
        removed = migrations.downgrade(package, target)
        with migrations.connect() as job:
            now = migrations.current(job.connection)[package]
        click.echo(f"Reverted {len(removed)} revision(s); {package}: {now or 'base'}")


@db_group.command()
@with_appcontext
def current() -> None:
    """Show each package's revision in the database."""
    with _migrations() as migrations:
        with migrations.connect() as job:
            found = migrations.current(job.connection)
            pending = migrations.pending(job.connection)
        for name, rev in found.items():
            state = "head" if name not in pending else "not at head"
            click.echo(f"{name}: {rev or 'base'} ({state})")


@db_group.command()
@click.option("--package", "-p", help="Show this package's revisions only.")
@with_appcontext
def history(package: str | None) -> None:
    """List each package's revisions, newest first."""
    with _migrations() as migrations:
        if package is not None:
            migrations.require(package)
        with migrations.connect() as job:
            applied = migrations.applied(job.connection)
        for name, branch in migrations.branches.items():
            if package not in (None, name):
                continue
            click.echo(f"{name}:")
            for rev in branch.revisions:
                down = ", ".join(_down(rev.down_revision)) or "base"
                mark = "x" if rev.revision in applied else " "
                click.echo(f"  [{mark}] {down} -> {rev.revision}: {rev.doc}")


@db_group.command()
@click.option("--package", "-p", required=True, help="The package the revision belongs to.")
@click.option("--message", "-m", default="", help="What the revision does.")
@click.option(
    "--autogenerate/--empty",
    default=True,
    help="Compare the package's models with the database (default), or write an empty revision.",
)
@with_appcontext
def revision(package: str, message: str, autogenerate: bool) -> None:
    """Write a new revision of one package, comparing its tables only."""
    with _migrations() as migrations:
        made = migrations.revision(package, message, autogenerate)
    click.echo(f"Revision {made.revision} of {package}: {made.path}")


def _down(value: str | t.Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
