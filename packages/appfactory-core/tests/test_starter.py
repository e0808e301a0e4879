"""``appfactory new``: new packages and apps that install, pass ``check`` and their tests."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from appfactory.core.starter import main, plan

CHECKOUT = Path(__file__).resolve().parents[3]
FRAMEWORK = [CHECKOUT / "packages" / "appfactory-core", CHECKOUT / "packages" / "appfactory-celery"]


def new(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["new", *args])
    return result.exit_code, result.output


def test_a_package_has_every_part(tmp_path: Path) -> None:
    code, output = new("package", "blog", "-d", str(tmp_path))
    assert code == 0, output
    written = {p.relative_to(tmp_path / "blog").as_posix() for p in tmp_path.rglob("*.*")}
    assert written == {
        "README.md",
        "pyproject.toml",
        "src/blog/__init__.py",
        "src/blog/config.py",
        "src/blog/views.py",
        "src/blog/cli.py",
        "src/blog/tasks.py",
        "src/blog/templates/blog/index.html",
        "src/blog/static/blog.css",
        "tests/conftest.py",
        "tests/test_blog.py",
    }
    assert output.splitlines()[0] == f"Wrote {os.path.relpath(tmp_path / 'blog')}/, a new package."
    project = (tmp_path / "blog" / "pyproject.toml").read_text()
    assert '[project.entry-points."appfactory.commands"]\nblog = "blog.cli:group"' in project


def test_an_app_has_its_modules_and_its_package(tmp_path: Path) -> None:
    code, output = new("app", "my_shop", "-d", str(tmp_path))
    assert code == 0, output
    root = tmp_path / "my-shop"
    for module in ("__init__", "config", "app", "cli", "celery", "wsgi"):
        assert (root / "src" / "my_shop" / f"{module}.py").is_file()
    assert (root / "src" / "my_shop_home" / "templates" / "my_shop_home" / "index.html").is_file()
    project = (root / "pyproject.toml").read_text()
    assert 'my_shop = "my_shop.cli:cli"' in project
    assert 'packages = ["src/my_shop", "src/my_shop_home"]' in project
    assert 'my_shop_home = "my_shop_home.cli:group"' in project
    config = (root / "src" / "my_shop" / "config.py").read_text()
    assert '"appfactory.celery",' in config
    assert '"my_shop_home",' in config


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Blog", "is not a Python import name"),
        ("2blog", "is not a Python import name"),
        ("my-blog", "is not a Python import name"),
        ("class", "is not a Python import name"),
        ("json", "is already an importable module here"),
        ("flask", "is already an importable module here"),
    ],
)
def test_bad_names_are_refused(tmp_path: Path, name: str, reason: str) -> None:
    code, output = new("package", name, "-d", str(tmp_path))
    assert code == 2
    assert f"Error: NAME {name!r} {reason}" in output
    assert list(tmp_path.iterdir()) == []


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "blog").mkdir()
    (tmp_path / "blog" / "notes.txt").write_text("mine")
    code, output = new("package", "blog", "-d", str(tmp_path))
    assert code == 2
    assert f"Error: {tmp_path / 'blog'} already exists and is not an empty folder" in output
    assert [p.name for p in (tmp_path / "blog").iterdir()] == ["notes.txt"]


def test_a_folder_that_cannot_be_written_is_one_line(read_only_folder: Path) -> None:
    folder = read_only_folder
    code, output = new("package", "blog", "-d", str(folder))
    assert code == 1
    assert output.startswith(f"Error: Cannot write {folder / 'blog'}")
    assert output.rstrip().endswith("Choose a folder you can write with --directory.")


def test_requirements_follow_the_installed_framework() -> None:
    project = plan("package", "blog")["pyproject.toml"]
    assert 'dependencies = ["appfactory-core>=0.1,<0.2", "appfactory-celery>=0.1,<0.2"]' in project


def run(*args: str | Path, cwd: Path, **env: str) -> str:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_", "TESTAPP_"))}
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_new_projects_build_install_check_and_pass_their_tests(tmp_path: Path) -> None:
    """Both kinds, built into wheels, installed (not editable) into a fresh virtualenv
    with the framework of this checkout; then ``check`` and their own test suites."""
    if not all((folder / "pyproject.toml").is_file() for folder in FRAMEWORK):
        pytest.skip(f"the framework's sources are not in {CHECKOUT}")
    assert new("app", "shop", "-d", str(tmp_path))[0] == 0
    assert new("package", "blog", "-d", str(tmp_path))[0] == 0
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    python = tmp_path / "venv" / "bin" / "python"
    pip = [python, "-m", "pip", "install", "--quiet"]
    run(
        python,
        "-m",
        "pip",
        "wheel",
        "--quiet",
        "--no-deps",
        "-w",
        "dist",
        tmp_path / "shop",
        tmp_path / "blog",
        cwd=tmp_path,
    )
    wheels = sorted((tmp_path / "dist").glob("*.whl"))
    assert [w.name for w in wheels] == [
        "blog-0.1.0-py3-none-any.whl",
        "shop-0.1.0-py3-none-any.whl",
    ]
    for wheel, package in zip(wheels, ("blog", "shop_home"), strict=True):
        names = zipfile.ZipFile(wheel).namelist()
        assert f"{package}/templates/{package}/index.html" in names
        assert f"{package}/static/{package}.css" in names
    run(*pip, *FRAMEWORK, *wheels, "pytest>=8", cwd=tmp_path)

    instance = str(tmp_path / "shop-instance")
    checked = run(
        tmp_path / "venv" / "bin" / "shop", "check", cwd=tmp_path, SHOP_INSTANCE_PATH=instance
    )
    assert checked.splitlines()[-1].startswith("2 problem(s): 0 error,"), checked
    # The package's commands are declared: listed with their help, and they run.
    listed = run(
        tmp_path / "venv" / "bin" / "shop", "--help", cwd=tmp_path, SHOP_INSTANCE_PATH=instance
    )
    assert "shop_home  Commands of shop_home." in listed, listed
    for project in ("shop", "blog"):
        # Run from the project's folder: the tests import the installed package.
        output = run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider", cwd=tmp_path / project)
        assert output.splitlines()[-1].startswith("7 passed"), output
