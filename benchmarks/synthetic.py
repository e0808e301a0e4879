"""Synthetic reusable packages, written into a temporary folder.

Each package ``synth_pkg_NNN`` has what the issue's table asks for and what a
real package has: ``config.py`` with 5 defaults, ``views.py`` with a blueprint
of 3 routes and a template folder, ``cli.py`` with one command that needs no
app context, and ``tasks.py`` with one shared task. The packages are written
once into ``<root>/site``; an app uses the first N of them.

:func:`write_commands` writes, for each package, a distribution
``synth_pkg_NNN_commands`` (a ``dist-info`` folder) that declares its command
in the group ``appfactory.commands``, as a real package's distribution does,
so that ours lists the command without importing the package.

For discovery through entry points, :func:`write_entry_points` writes
``<name>-1.0.dist-info`` folders (``METADATA`` and ``entry_points.txt``) into a
separate folder, which a child process puts on ``sys.path``: importlib.metadata
then sees N installed distributions, each advertising its package in the
groups of every system.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

PREFIX = "synth_pkg_"
#: The entry-point groups that the synthetic distributions advertise in.
OURS_GROUP = "appfactory.packages"
INVENIO_BLUEPRINTS_GROUP = "invenio_base.blueprints"
#: The entry-point group in which ours finds the packages' commands without importing them.
COMMANDS_GROUP = "appfactory.commands"


def package_name(index: int) -> str:
    """The import name of synthetic package ``index``.

    >>> package_name(7)
    'synth_pkg_007'
    """
    return f"{PREFIX}{index:03d}"


def package_names(count: int) -> list[str]:
    """The first ``count`` synthetic packages, in order."""
    return [package_name(i) for i in range(count)]


def command_name(package: str) -> str:
    """The name of a synthetic package's command.

    >>> command_name("synth_pkg_007")
    'synth-pkg-007-hello'
    """
    return package.replace("_", "-") + "-hello"


def package_files(name: str) -> dict[str, str]:
    """``{relative path: text}`` of one synthetic package."""
    upper = name.upper()
    return {
        "__init__.py": f'"""Synthetic package {name} of the appfactory benchmarks."""\n',
        "config.py": textwrap.dedent(
            f'''\
            """Defaults of {name}."""

            {upper}_TITLE = "{name}"
            {upper}_PAGE_SIZE = 20
            {upper}_ENABLED = True
            {upper}_COLORS = ["red", "green", "blue"]
            {upper}_OPTIONS = {{"timeout": 5, "retries": 2}}
            '''
        ),
        "views.py": textwrap.dedent(
            f'''\
            """Pages of {name}."""

            from flask import Blueprint, current_app, render_template, request

            blueprint = Blueprint(
                "{name}", __name__, template_folder="templates", url_prefix="/{name}"
            )


            @blueprint.route("/")
            def index():
                title = current_app.config["{upper}_TITLE"]
                return render_template("{name}/index.html", title=title)


            @blueprint.route("/items/<int:item_id>")
            def item(item_id):
                return {{"item": item_id}}


            @blueprint.route("/search", methods=["GET", "POST"])
            def search():
                return {{"query": request.values.get("q", "")}}
            '''
        ),
        "cli.py": textwrap.dedent(
            f'''\
            """Commands of {name}."""

            import click


            @click.command("{command_name(name)}")
            def hello():
                """Say hello (needs no app context)."""
                click.echo("hello from {name}")


            commands = [hello]
            '''
        ),
        "tasks.py": textwrap.dedent(
            f'''\
            """Tasks of {name}."""

            from celery import shared_task


            @shared_task(name="{name}.ping")
            def ping():
                return None
            '''
        ),
        f"templates/{name}/index.html": "<h1>{{ title }}</h1>\n",
    }


def write_package(site: Path, name: str) -> None:
    """Write one synthetic package into the folder ``site``."""
    for relative, text in package_files(name).items():
        path = site / name / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def write_commands(folder: Path, names: list[str]) -> None:
    """Write a ``dist-info`` folder declaring each package's command into ``folder``."""
    for name in names:
        entry = f"[{COMMANDS_GROUP}]\n{command_name(name)} = {name}.cli:hello\n"
        write_distribution(folder, f"{name}_commands", entry)


def write_distribution(folder: Path, name: str, entry_points: str) -> None:
    """Write ``<name>-1.0.dist-info`` (``METADATA``, ``entry_points.txt``) into ``folder``."""
    info = folder / f"{name}-1.0.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8"
    )
    (info / "entry_points.txt").write_text(entry_points, encoding="utf-8")


def entry_points_text(name: str) -> str:
    """The ``entry_points.txt`` of a synthetic package's distribution."""
    return (
        f"[{OURS_GROUP}]\n{name} = {name}\n\n"
        f"[{INVENIO_BLUEPRINTS_GROUP}]\n{name} = {name}.views:blueprint\n"
    )


def write_entry_points(folder: Path, names: list[str]) -> None:
    """Write a ``dist-info`` folder advertising each package into ``folder``."""
    for name in names:
        write_distribution(folder, name, entry_points_text(name))


class Workspace:
    """The temporary folder of a run: synthetic packages, instance folders, logs."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.site = root / "site"
        self._written = 0

    def packages(self, count: int) -> Path:
        """The folder holding (at least) the first ``count`` synthetic packages.

        It also holds ``benchapp``, the package whose name every system's app has.
        """
        app_package = self.site / "benchapp" / "__init__.py"
        if not app_package.is_file():
            app_package.parent.mkdir(parents=True, exist_ok=True)
            app_package.write_text('"""The app package of every system."""\n', encoding="utf-8")
        for index in range(self._written, count):
            write_package(self.site, package_name(index))
        self._written = max(self._written, count)
        return self.site

    def entry_points(self, count: int) -> Path:
        """A folder of ``count`` distributions advertising the first ``count`` packages."""
        folder = self.root / f"entry-points-{count}"
        if not folder.is_dir():
            write_entry_points(folder, package_names(count))
        return folder

    def commands(self, count: int) -> Path:
        """A folder of ``count`` distributions declaring the first ``count`` packages' commands."""
        folder = self.root / f"commands-{count}"
        if not folder.is_dir():
            write_commands(folder, package_names(count))
        return folder

    def folder(self, name: str) -> Path:
        """A fresh empty folder ``<root>/<name>`` (made unique with a counter)."""
        index = 0
        while True:
            path = self.root / f"{name}-{index}"
            if not path.exists():
                path.mkdir(parents=True)
                return path
            index += 1


def instance_variable(path: str | os.PathLike[str]) -> dict[str, str]:
    """The variable that puts the instance folder of every system at ``path``."""
    return {"BENCHAPP_INSTANCE_PATH": os.fspath(path)}
