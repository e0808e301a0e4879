"""Commands that packages declare in the ``appfactory.commands`` entry points.

Each test writes a package ``pkg_decl`` and an installed distribution (a
``dist-info`` folder) that declares its commands, then runs a management
command for an app whose PACKAGES is ``["pkg_decl"]``, in a fresh process
where ``sys.modules`` tells what was imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

PACKAGE_FILES = {
    "pkg_decl/__init__.py": '"""A package that declares its commands."""\n',
    "pkg_decl/config.py": 'PKG_DECL_GREETING = "Hello from the package"\n',
    "pkg_decl/cli.py": '''\
        """Commands of pkg_decl."""

        import click
        from flask import current_app
        from flask.cli import with_appcontext


        @click.command("decl-hello")
        def hello() -> None:
            """Say hello without the app context."""
            click.echo("hello from pkg_decl")


        @click.command("decl-greeting")
        @with_appcontext
        def greeting() -> None:
            """Print the greeting of the app."""
            click.echo(current_app.config["PKG_DECL_GREETING"])


        @click.group("decl-group", short_help="Commands in a group.")
        def group() -> None:
            """A group of commands with a long help text."""


        @group.command("inner")
        @click.option("--name", default="world")
        def inner(name: str) -> None:
            """An inner command."""
            click.echo(f"inner {name}")


        not_a_command = 42
        ''',
}

DECLARED = {
    "decl-hello": "pkg_decl.cli:hello",
    "decl-greeting": "pkg_decl.cli:greeting",
    "decl-group": "pkg_decl.cli:group",
}

#: Runs the app's management command and writes the names in sys.modules at exit.
RUNNER = """
import atexit, json, os, sys
from appfactory.core import appfactory, clifactory

def _write():
    with open(os.environ["MODULES_FILE"], "w") as handle:
        json.dump(sorted(sys.modules), handle)

atexit.register(_write)
cli = clifactory(
    lambda load=True, **kw: appfactory("declapp", None, load=load, PACKAGES=["pkg_decl"], **kw)
)
cli(sys.argv[1:], prog_name="declapp")
"""


class Run(t.NamedTuple):
    code: int
    out: str
    err: str
    modules: set[str]

    @property
    def package_modules(self) -> set[str]:
        return {m for m in self.modules if m == "pkg_decl" or m.startswith("pkg_decl.")}


@pytest.fixture
def site(tmp_path: Path) -> t.Callable[[dict[str, str]], Path]:
    """``site(entry_points, extra="")``: the package and a distribution declaring
    ``entry_points`` (and ``extra``, more sections of ``entry_points.txt``)."""

    def write(entry_points: dict[str, str], extra: str = "") -> Path:
        folder = tmp_path / "site"
        for relative, text in PACKAGE_FILES.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        info = folder / "pkg_decl-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: pkg-decl\nVersion: 1.0\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text(f"[appfactory.commands]\n{lines}{extra}")
        return folder

    return write


def run(folder: Path, *args: str, **env: str) -> Run:
    modules_file = folder.parent / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, *args],
        env={
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(folder), os.environ.get("PYTHONPATH", "")]),
            "DECLAPP_INSTANCE_PATH": str(folder.parent / "instance"),
            "MODULES_FILE": str(modules_file),
            **env,
        },
        cwd=folder.parent,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr, set(json.loads(modules_file.read_text())))


def test_help_lists_declared_commands_without_importing_the_package(site):
    result = run(site(DECLARED), "--help")
    assert result.code == 0, result.err
    lines = {line.split()[0]: " ".join(line.split()[1:]) for line in result.out.splitlines()
             if line.startswith("  decl-")}  # fmt: skip
    assert lines == {
        "decl-greeting": "Print the greeting of the app.",
        "decl-group": "Commands in a group.",
        "decl-hello": "Say hello without the app context.",
    }
    assert result.package_modules == set()


def test_shell_completion_imports_no_package_module(site):
    result = run(
        site(DECLARED),
        _DECLAPP_COMPLETE="zsh_complete",
        COMP_WORDS="declapp decl-",
        COMP_CWORD="1",
    )
    assert result.code == 0, result.err
    assert result.out.split("\n")[:6] == [
        "plain", "decl-greeting", "Print the greeting of the app.",
        "plain", "decl-group", "Commands in a group.",
    ]  # fmt: skip
    assert result.package_modules == set()


def test_a_command_imports_only_its_module(site):
    result = run(site(DECLARED), "decl-hello")
    assert (result.code, result.out) == (0, "hello from pkg_decl\n"), result.err
    assert result.package_modules == {"pkg_decl", "pkg_decl.cli", "pkg_decl.config"}


def test_a_command_sees_the_package_configuration(site):
    folder = site(DECLARED)
    result = run(folder, "decl-greeting")
    assert (result.code, result.out) == (0, "Hello from the package\n"), result.err
    # Higher layers still beat the package's default.
    result = run(folder, "decl-greeting", DECLAPP_PKG_DECL_GREETING="From the environment")
    assert (result.code, result.out) == (0, "From the environment\n"), result.err


def test_a_declared_group_runs_and_completes_its_commands(site):
    folder = site(DECLARED)
    result = run(folder, "decl-group", "inner", "--name", "there")
    assert (result.code, result.out) == (0, "inner there\n"), result.err
    result = run(folder, "decl-group", "--help")
    assert "A group of commands with a long help text." in result.out
    assert "inner" in result.out
    completed = run(
        folder, _DECLAPP_COMPLETE="bash_complete", COMP_WORDS="declapp decl-group i", COMP_CWORD="2"
    )
    assert completed.out.split() == ["plain,inner"]


FIX = "fix the entry point in the package's pyproject.toml and reinstall the package."


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "pkg_decl.missing:hello",
            "names module 'pkg_decl.missing', which does not exist; " + FIX,
        ),
        (
            "pkg_decl.cli:goodbye",
            "names 'goodbye', which module 'pkg_decl.cli' does not have; " + FIX,
        ),
        (
            "pkg_decl.cli:not_a_command",
            "names int 42, not a click command; decorate the function with @click.command(), "
            "or fix the entry point.",
        ),
        ("pkg_decl.cli", "names no object; write it as 'module:object' and reinstall the package."),
    ],
)
def test_a_bad_declaration_is_one_line_naming_package_and_entry_point(site, value, message):
    folder = site({"decl-bad": value})
    listed = run(folder, "--help")
    assert listed.code == 0, listed.err
    assert "decl-bad" in listed.out
    result = run(folder, "decl-bad")
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        f"Error: Command 'decl-bad' of package 'pkg_decl', entry point decl-bad = {value!r} "
        f"(appfactory.commands of pkg-decl), {message}"
    )
    assert "Traceback" not in result.err


def test_a_declared_command_with_a_built_in_name_is_refused(site):
    result = run(site({"shell": "pkg_decl.cli:hello"}), "--help")
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        "Error: Command 'shell' of package 'pkg_decl' has the name of a built-in command; "
        "rename it in the entry points of 'pkg_decl' in group 'appfactory.commands'."
    )


def test_help_texts_are_kept_in_the_instance_folder_and_read_again_on_change(site):
    folder = site(DECLARED)
    cache = folder.parent / "instance" / "command-help.json"
    assert "Say hello without the app context." in run(folder, "--help").out
    assert "Say hello without the app context." in cache.read_text()
    source = folder / "pkg_decl" / "cli.py"
    source.write_text(source.read_text().replace("Say hello without", "Greet without"))
    result = run(folder, "--help")
    assert "Greet without the app context." in result.out
    assert result.package_modules == set()


def test_a_broken_help_cache_is_read_again_from_the_sources(site):
    folder = site(DECLARED)
    cache = folder.parent / "instance" / "command-help.json"
    cache.parent.mkdir()
    cache.write_text("{not json")
    result = run(folder, "--help")
    assert result.code == 0, result.err
    assert "Say hello without the app context." in result.out
    assert "Say hello without the app context." in cache.read_text()


def test_flask_plugin_commands_still_work(site):
    folder = site(DECLARED, "\n[flask.commands]\ndecl-plugin = pkg_decl.cli:hello\n")
    assert "decl-plugin" in run(folder, "--help").out
    result = run(folder, "decl-plugin")
    assert (result.code, result.out) == (0, "hello from pkg_decl\n"), result.err
