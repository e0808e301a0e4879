"""``appfactory new``: write a new reusable package or app, ready to install and test.

>>> from appfactory.core.starter import plan
>>> sorted(plan("package", "blog"))[:3]
['README.md', 'pyproject.toml', 'src/blog/__init__.py']
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import keyword
import os
import re
import string
import sys
from pathlib import Path

import click

from .environ import env_prefix
from .starter_files import APP, COMMON, PACKAGE
from .version import __version__

#: Kinds of project ``appfactory new`` writes.
KINDS = ("package", "app")
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")


def requirement(distribution: str) -> str:
    """``distribution`` at the minor version installed (else appfactory-core's),
    as a range: ``appfactory-core>=0.1,<0.2``."""
    try:
        version = importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        version = __version__
    major, minor = (int(part) for part in version.split(".")[:2])
    return f"{distribution}>={major}.{minor},<{major}.{minor + 1}"


def check_name(name: str, what: str = "NAME") -> None:
    """Refuse a name that is not a new import name, with the reason and a fix."""
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise click.UsageError(
            f"{what} {name!r} is not a Python import name: use lower-case letters, digits "
            "and underscores, starting with a letter (such as 'blog' or 'my_shop')."
        )
    taken = name in sys.stdlib_module_names or name == "appfactory"
    if not taken:
        try:
            taken = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):
            taken = True
    if taken:
        raise click.UsageError(
            f"{what} {name!r} is already an importable module here; a package of that name "
            "would shadow it or be shadowed by it. Choose another name."
        )


def plan(kind: str, name: str) -> dict[str, str]:
    """``{relative path: text}`` of the files of a new ``kind`` called ``name``."""
    package = name if kind == "package" else f"{name}_home"
    values = {
        "kind": kind,
        "given": name,
        "name": package,
        "app": name,
        "appname": "testapp" if kind == "package" else name,
        "dist": name.replace("_", "-"),
        "upper": package.upper(),
        "prefix": env_prefix(name),
        "route": f"/{package}/" if kind == "package" else "/",
        "what": "a reusable package of appfactory apps"
        if kind == "package"
        else f"the pages, commands and tasks of the app {name}",
        "core": requirement("appfactory-core"),
        "celery": requirement("appfactory-celery"),
    }
    files = {**COMMON, **(PACKAGE if kind == "package" else APP)}
    return {
        string.Template(path).substitute(values): string.Template(text).substitute(values)
        for path, text in files.items()
    }


def write(kind: str, name: str, parent: Path) -> Path:
    """Write the new project into ``parent/<dist>``; returns that folder."""
    check_name(name)
    if kind == "app":
        check_name(f"{name}_home", "The package of the app's pages")
    target = parent / name.replace("_", "-")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise click.UsageError(
            f"{target} already exists and is not an empty folder; choose another NAME, or "
            "another place with --directory."
        )
    files = plan(kind, name)
    for relative, text in files.items():
        path = target / relative
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise click.ClickException(
                f"Cannot write {path}: {exc.strerror or exc}. Choose a folder you can "
                "write with --directory."
            ) from exc
    return target


def _next_steps(kind: str, name: str, target: Path) -> str:
    where = os.path.relpath(target)
    run = f"  {name} run                  # http://127.0.0.1:5000/\n" if kind == "app" else ""
    what = f"app with its package {name}_home" if kind == "app" else kind
    return (
        f"Wrote {where}/, a new {what}.\n"
        "Next, in this virtualenv:\n"
        f"  cd {where}\n"
        '  pip install -e ".[test]"\n'
        "  pytest\n" + run
    )


@click.group()
@click.version_option(__version__, prog_name="appfactory")
def main() -> None:
    """appfactory's own command: start a new reusable package or app."""


@main.group()
def new() -> None:
    """Write a new project: pyproject.toml, src/ layout, tests."""


def _new_command(kind: str, help_text: str) -> click.Command:
    @click.command(name=kind, help=help_text)
    @click.argument("name")
    @click.option(
        "--directory",
        "-d",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="The folder to write the new project's folder into.",
    )
    def command(name: str, directory: Path) -> None:
        target = write(kind, name, directory)
        click.echo(_next_steps(kind, name, target), nl=False)

    return command


new.add_command(
    _new_command(
        "package",
        "A reusable package NAME: config, a page with its template and stylesheet, "
        "a command, a task, and its tests.",
    )
)
new.add_command(
    _new_command(
        "app",
        "An app NAME with the console script NAME, its Celery and WSGI modules, and a "
        "package NAME_home for its own page, command and task, with tests.",
    )
)
