"""The packages' Alembic branches: read, upgraded, downgraded, generated.

Imported by the ``db`` commands and by ``check`` only: the web app's start and
``myapp --help`` never import Alembic.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import traceback
import typing as t
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import Script, ScriptDirectory
from alembic.util import CommandError
from flask import Flask

import sqlalchemy as sa
from appfactory.core import describe_exception, mask_url

from .database import database_packages, db
from .discovery import DEPENDS_ON, MIGRATIONS, DatabasePackages
from .environment import JOB, Job
from .errors import MigrationError

#: The folder of Alembic's ``env.py`` and revision template, shared by every package.
TEMPLATE = Path(__file__).parent / "script_template"


@dataclass(frozen=True)
class PackageRevisions:
    """One package's branch: its revisions, roots and heads."""

    package: str
    revisions: tuple[Script, ...]
    heads: tuple[str, ...]


class Migrations:
    """The Alembic revisions of every package of ``app``, by package.

    >>> Migrations(app).branches["mymodule"].heads  # doctest: +SKIP
    ('3f2a1c9e0b7d',)
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.found: DatabasePackages = database_packages(app)
        self.folders = {
            name: package.folder
            for name, package in self.found.packages.items()
            if package.folder is not None
        }
        # quiet: Alembic's own lines ("Generating ...") are not the command's output.
        self.config = Config(cmd_opts=argparse.Namespace(quiet=True))
        self.config.set_main_option("script_location", str(TEMPLATE))
        self.config.set_main_option("path_separator", "os")
        self.config.set_main_option(
            "version_locations", os.pathsep.join(str(f) for f in self.folders.values())
        )
        self.script = self._read_scripts()
        self.branches = {name: self._branch(name) for name in self.folders}

    def _read_scripts(self) -> ScriptDirectory:
        script = ScriptDirectory.from_config(self.config)
        try:
            # Reads every revision file now, so that a broken one is reported here.
            script.revision_map.heads  # noqa: B018
        except Exception as exc:
            raise MigrationError(
                f"The migrations cannot be read: {self._describe(exc)}. Fix the revision "
                f"file named, in one of the packages' {MIGRATIONS}/ folders."
            ) from exc
        return script

    def package_of(self, revision: Script) -> str:
        """The package whose ``migrations`` folder holds ``revision``."""
        folder = Path(revision.path).parent
        for name, found in self.folders.items():
            if folder == found:
                return name
        raise MigrationError(f"Revision {revision.revision!r} ({revision.path}) is in no package.")

    def _branch(self, package: str) -> PackageRevisions:
        revisions = tuple(
            rev
            for rev in self.script.walk_revisions()
            if Path(rev.path).parent == self.folders[package]
        )
        ids = {rev.revision for rev in revisions}
        parents = {down for rev in revisions for down in _tuple(rev.down_revision)}
        heads = tuple(sorted(rev.revision for rev in revisions if rev.revision not in parents))
        for rev in revisions:
            if not set(_tuple(rev.down_revision)) & ids and package not in rev.branch_labels:
                raise MigrationError(
                    f"Revision {rev.revision!r} ({rev.path}) starts the migrations of package "
                    f"{package!r} but has no branch label {package!r}; add "
                    f"branch_labels = ({package!r},) to it."
                )
        return PackageRevisions(package, revisions, heads)

    # -- the database's state ---------------------------------------------------

    @contextlib.contextmanager
    def connect(self, tables: frozenset[str] | None = None) -> t.Iterator[Job]:
        """A connection of the app's database, in the job that ``env.py`` reads."""
        with db.engine.connect() as connection:
            job = Job(connection, db.metadata, tables)
            self.config.attributes[JOB] = job
            try:
                yield job
            finally:
                del self.config.attributes[JOB]

    def applied(self, connection: sa.Connection) -> set[str]:
        """The revisions applied to the database (the heads in ``alembic_version``
        and everything they stand on)."""
        heads = MigrationContext.configure(connection).get_current_heads()
        if connection.in_transaction():
            connection.rollback()
        if not heads:
            return set()
        return {rev.revision for rev in self.script.iterate_revisions(heads, "base")}

    def current(self, connection: sa.Connection) -> dict[str, str | None]:
        """``{package: its current revision, or None}``."""
        applied = self.applied(connection)
        found: dict[str, str | None] = {}
        for name, branch in self.branches.items():
            done = {rev.revision for rev in branch.revisions if rev.revision in applied}
            parents = {
                down
                for rev in branch.revisions
                if rev.revision in done
                for down in _tuple(rev.down_revision)
            }
            tops = sorted(done - parents)
            found[name] = ", ".join(tops) if tops else None
        return found

    def pending(self, connection: sa.Connection) -> dict[str, list[str]]:
        """``{package: its heads not applied}``, for the packages that have some."""
        applied = self.applied(connection)
        missing = {
            name: [head for head in branch.heads if head not in applied]
            for name, branch in self.branches.items()
        }
        return {name: heads for name, heads in missing.items() if heads}

    # -- commands ---------------------------------------------------------------

    def upgrade_order(self, package: str | None = None) -> list[str]:
        """The packages to upgrade: all, or ``package`` after those it depends on."""
        if package is None:
            return list(self.found.order)
        self.require(package)
        needed = {package}
        for name in reversed(self.found.order):
            if name in needed:
                needed.update(self.found.packages[name].depends_on)
        return [name for name in self.found.order if name in needed]

    def upgrade(self, package: str | None = None, revision: str | None = None) -> list[str]:
        """Upgrade each package's branch to its head, dependencies first (or one
        package, or to one revision); returns the revisions applied."""
        targets = (
            [revision]
            if revision is not None
            else [
                head for name in self.upgrade_order(package) for head in self.branches[name].heads
            ]
        )
        applied: list[str] = []
        for target in targets:
            applied += self._run(command.upgrade, target)
        return applied

    def downgrade(self, package: str, target: str = "-1") -> list[str]:
        """Downgrade ``package``'s branch one revision (``-1``), to ``base``, or to a
        revision of it; returns the revisions removed."""
        self.require(package)
        if target == "base" or target.startswith("-"):
            destination = f"{package}@{target}"
        else:
            rev = self._get(target)
            if self.package_of(rev) != package:
                raise MigrationError(
                    f"Revision {target!r} is of package {self.package_of(rev)!r}, not "
                    f"{package!r}; give a revision of {package!r}, '-1' or 'base'."
                )
            destination = rev.revision
        with self.connect() as job:
            applied = self.applied(job.connection)
        blockers = self._blockers(package, self._removed(package, target, applied), applied)
        if blockers:
            raise MigrationError(
                f"Package {package!r} cannot go down to {target}: the tables of "
                + ", ".join(repr(n) for n in blockers)
                + f" need its tables ({DEPENDS_ON}); downgrade "
                + ("that package" if len(blockers) == 1 else "those packages")
                + " first."
            )
        return self._run(command.downgrade, destination)

    def _removed(self, package: str, target: str, applied: set[str]) -> set[str]:
        """The applied revisions of ``package`` that a downgrade to ``target`` removes."""
        branch = {rev.revision: rev for rev in self.branches[package].revisions}
        done = {rev for rev in branch if rev in applied}
        if target == "base":
            return done
        if target.startswith("-") and target[1:].isdigit():
            removed: set[str] = set()
            tops = done - {d for rev in done for d in _tuple(branch[rev].down_revision)}
            for _ in range(int(target[1:])):
                removed |= tops
                tops = {d for rev in tops for d in _tuple(branch[rev].down_revision)} & done
            return removed
        kept: set[str] = set()
        todo = [self._get(target).revision]
        while todo:
            rev = todo.pop()
            if rev in branch and rev not in kept:
                kept.add(rev)
                todo.extend(_tuple(branch[rev].down_revision))
        return done - kept

    def _blockers(self, package: str, removed: set[str], applied: set[str]) -> list[str]:
        """The other packages whose applied migrations need a revision in ``removed``
        (their ``depends_on``), or any table of ``package`` when it goes to base."""
        kept = {r.revision for r in self.branches[package].revisions if r.revision in applied}
        to_base = bool(removed) and not kept - removed
        found = []
        for name, branch in self.branches.items():
            if name == package:
                continue
            done = [rev for rev in branch.revisions if rev.revision in applied]
            needs = {self._get(dep).revision for rev in done for dep in _tuple(rev.dependencies)}
            declared = package in self.found.packages[name].depends_on
            if needs & removed or (to_base and declared and done):
                found.append(name)
        return found

    def revision(self, package: str, message: str, autogenerate: bool = True) -> Script:
        """Start (or continue) ``package``'s migrations with a new revision file."""
        self.require(package, needs_folder=False)
        folder = self.folders.get(package)
        if folder is None:
            folder = self._create_folder(package)
            return Migrations(self.app).revision(package, message, autogenerate)
        branch = self.branches[package]
        options: dict[str, t.Any] = {"head": f"{package}@head"}
        if not branch.revisions:
            needed = self.found.packages[package].depends_on
            depends = [head for name in needed for head in self.branches[name].heads]
            options = {
                "head": "base",
                "branch_label": package,
                "depends_on": depends or None,
            }
        tables = frozenset(self.found.packages[package].tables)
        with self.connect(tables):
            try:
                made = command.revision(
                    self.config,
                    message=message,
                    autogenerate=autogenerate,
                    version_path=str(folder),
                    **options,
                )
            except CommandError as exc:
                raise MigrationError(
                    f"No revision made for package {package!r}: {self._describe(exc)}. "
                    + ("Run 'db upgrade' first." if "up to date" in str(exc) else "")
                ) from exc
        assert isinstance(made, Script)
        return made

    def require(self, package: str, needs_folder: bool = True) -> None:
        """Refuse a name that is no package of the app, or a package without migrations."""
        if package not in self.found.packages:
            known = ", ".join(repr(n) for n in self.found.packages) or "none"
            raise MigrationError(
                f"{package!r} is not a package of the app (its packages: {known}); give "
                "one of them, or add it to PACKAGES."
            )
        if needs_folder and package not in self.folders:
            raise MigrationError(
                f"Package {package!r} has no migrations ({package}/{MIGRATIONS}/); start them "
                f"with 'db revision --package {package}'."
            )

    def _create_folder(self, package: str) -> Path:
        module = importlib.import_module(package)
        folder = Path(next(iter(module.__path__))) / MIGRATIONS
        folder.mkdir()
        (folder / "__init__.py").write_text(
            f'"""Alembic revisions of {package}: its branch, labelled {package!r}."""\n\n'
            "#: The packages whose tables these migrations need.\n"
            f"{DEPENDS_ON}: list[str] = []\n",
            encoding="utf-8",
        )
        self.found.packages[package].folder = folder
        self.found.order.append(package)
        return folder

    def _get(self, revision: str) -> Script:
        try:
            found = self.script.get_revision(revision)
        except CommandError as exc:
            raise MigrationError(
                f"Unknown revision {revision!r}: {self._describe(exc)}. See the revisions with "
                "'db history'."
            ) from exc
        if found is None:
            raise MigrationError(f"Unknown revision {revision!r}.")
        return found

    def _run(self, operation: t.Callable[..., t.Any], target: str) -> list[str]:
        with self.connect() as job:
            try:
                operation(self.config, target)
            except Exception as exc:
                failed = exc
            else:
                return list(job.applied)
        raise self._failure(failed, target) from failed

    def _failure(self, exc: Exception, target: str) -> MigrationError:
        culprit = self._culprit(exc)
        if culprit is None:
            return MigrationError(
                f"Migrating to {target!r} failed: {self._describe(exc)}. See the "
                "revisions with 'db history'."
            )
        try:
            with self.connect() as fresh:
                now = self.current(fresh.connection)
            state = ", ".join(f"{name} at {rev or 'base'}" for name, rev in now.items())
        except Exception:
            state = "unknown: the database cannot be read"
        return MigrationError(
            f"Migration {culprit.revision!r} of package {self.package_of(culprit)!r} "
            f"({culprit.path}) failed: {self._describe(exc)}. The database stays at the "
            f"last revision applied of each package ({state}); fix the migration and run "
            "the command again."
        )

    def _culprit(self, exc: BaseException) -> Script | None:
        """The revision whose file raised ``exc`` (its frame is on the traceback)."""
        paths = {
            os.path.realpath(rev.path): rev
            for branch in self.branches.values()
            for rev in branch.revisions
        }
        found = None
        for frame in traceback.extract_tb(exc.__traceback__):
            rev = paths.get(os.path.realpath(frame.filename))
            if rev is not None:
                found = rev
        return found

    @staticmethod
    def _describe(exc: BaseException) -> str:
        text = describe_exception(exc)
        if isinstance(exc, SyntaxError) and exc.filename:
            text = f"{type(exc).__name__} in {exc.filename}, line {exc.lineno}: {exc.msg}"
        if isinstance(exc, sa.exc.DBAPIError):
            text = f"{type(exc.orig).__name__}: {str(exc.orig).strip().splitlines()[0]}"
        return mask_url(text.rstrip("."))


def _tuple(value: str | t.Sequence[str] | None) -> tuple[str, ...]:
    if value is None:
        return ()
    return (value,) if isinstance(value, str) else tuple(value)
