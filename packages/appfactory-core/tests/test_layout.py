"""Packaging mistakes: blueprint folders that are not installed, namespace packages."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

from appfactory.core import appfactory, check_app

STRONG_KEY = "0123456789abcdef" * 4
VIEWS = """
    from flask import Blueprint, render_template

    blueprint = Blueprint(
        "{name}", __name__, template_folder="templates", static_folder="static",
        static_url_path="/{name}/static",
    )

    @blueprint.route("/{name}")
    def index():
        return render_template("{name}.html")
"""


@pytest.fixture
def forget_modules() -> t.Iterator[list[str]]:
    """Names to drop from ``sys.modules`` after the test (a namespace package has no
    ``__file__``, so the shared clean-up does not see it)."""
    names: list[str] = []
    yield names
    for name in list(sys.modules):
        if name.partition(".")[0] in names:
            del sys.modules[name]


def problems_of(*packages: str, **config: t.Any) -> list[str]:
    app = appfactory("testapp", None, PACKAGES=list(packages), SECRET_KEY=STRONG_KEY, **config)
    return [str(problem) for problem in check_app(app) if problem.id in ("AF104", "AF105")]


def test_a_blueprint_without_its_folders_is_an_error(make_package: t.Callable[..., Path]) -> None:
    folder = make_package("pkg_unshipped", {"views.py": VIEWS.format(name="pkg_unshipped")})
    fix = (
        "Hint: Keep the folder inside the package's folder (hatchling ships it), or list it "
        "as package data (setuptools: [tool.setuptools.package-data]), then reinstall the "
        "package without -e and check again."
    )
    assert problems_of("pkg_unshipped") == [
        f"error AF104 package-folder-missing: Blueprint 'pkg_unshipped' of package "
        f"'pkg_unshipped' has the static folder {folder / 'static'}, which is not installed; "
        f"its static files answer 404. {fix}",
        f"error AF104 package-folder-missing: Blueprint 'pkg_unshipped' of package "
        f"'pkg_unshipped' has the template folder {folder / 'templates'}, which is not "
        f"installed; its pages fail with TemplateNotFound (500). {fix}",
    ]


def test_installed_folders_are_fine(make_package: t.Callable[..., Path]) -> None:
    make_package(
        "pkg_shipped",
        {
            "views.py": VIEWS.format(name="pkg_shipped"),
            "templates/pkg_shipped.html": "Hello",
            "static/pkg_shipped.css": "body {}",
        },
    )
    assert problems_of("pkg_shipped") == []


def test_a_namespace_package_is_reported(
    make_package: t.Callable[..., Path], forget_modules: list[str]
) -> None:
    folder = make_package("pkg_nsaccident", {"config.py": "PKG_NSACCIDENT_GREETING = 'Hi'\n"})
    (folder / "__init__.py").unlink()
    importlib.invalidate_caches()
    forget_modules.append("pkg_nsaccident")
    assert problems_of("pkg_nsaccident") == [
        "warning AF105 namespace-package: Package 'pkg_nsaccident' is a namespace package: "
        f"its folder {folder} has no __init__.py, so it has no root folder for templates "
        "and static files, and setuptools leaves it out of a build. Add an empty "
        f"{folder / '__init__.py'} and reinstall. Hint: A package of an app needs its "
        "__init__.py, even an empty one."
    ]


def test_a_namespace_above_a_package_is_fine(
    make_package: t.Callable[..., Path], forget_modules: list[str]
) -> None:
    """``corp.blog``: ``corp`` may be a namespace shared by distributions on purpose."""
    folder = make_package("corpns.blog", {"config.py": "CORPNS_BLOG_GREETING = 'Hi'\n"})
    assert not (folder.parent / "__init__.py").exists()
    forget_modules.append("corpns")
    assert problems_of("corpns.blog") == []
    app = appfactory("testapp", "corpns.blog.config", SECRET_KEY=STRONG_KEY, PACKAGES=[])
    assert [p for p in check_app(app) if p.id == "AF105"] == []


def test_the_apps_own_package_is_reported(
    make_package: t.Callable[..., Path], forget_modules: list[str]
) -> None:
    folder = make_package("nsowner", {"settings.py": "NSOWNER_VALUE = 1\n"})
    (folder / "__init__.py").unlink()
    importlib.invalidate_caches()
    forget_modules.append("nsowner")
    app = appfactory("testapp", "nsowner.settings", SECRET_KEY=STRONG_KEY, PACKAGES=[])
    found = [str(p) for p in check_app(app) if p.id == "AF105"]
    assert len(found) == 1
    assert found[0].startswith(
        "warning AF105 namespace-package: The app's package 'nsowner' is a namespace package"
    )


@pytest.mark.parametrize("args", [["--help"], ["check"], ["routes"], []])
def test_a_namespace_app_gets_one_line_for_every_command(tmp_path: Path, args: list[str]) -> None:
    """No __init__.py in the app's folder: Flask finds no root path; one line says why."""
    app = tmp_path / "project" / "nsapp"
    app.mkdir(parents=True)
    files = {
        "config.py": "PACKAGES = []\n",
        "app.py": """
            from appfactory.core import appfactory

            def create_app(load=True, **config):
                return appfactory("nsapp", "nsapp.config", load=load, **config)
        """,
        "cli.py": """
            from appfactory.core import clifactory

            from nsapp.app import create_app

            cli = clifactory(create_app)
        """,
    }
    for name, source in files.items():
        (app / name).write_text(textwrap.dedent(source), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NSAPP_", "FLASK_"))}
    result = subprocess.run(
        [sys.executable, "-c", "from nsapp.cli import cli; cli()", *args],
        env={**env, "PYTHONPATH": str(app.parent), "NSAPP_INSTANCE_PATH": str(tmp_path / "i")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Error: The app 'nsapp' is a namespace package: its folder {app} has no "
        "__init__.py, so it has no root folder for templates and static files, and "
        f"setuptools leaves it out of a build. Add an empty {app / '__init__.py'} and "
        "reinstall.",
        "  (run with --traceback to see the full stack)",
    ]
