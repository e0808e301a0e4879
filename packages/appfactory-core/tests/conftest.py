"""Fixtures shared by the appfactory-core tests."""

from __future__ import annotations

import os
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from flask import Flask
from flask.globals import _cv_app, _cv_request

from appfactory.core import appfactory
from appfactory.core.packages import entry_point_packages

TEST_APPS = Path(__file__).parent / "test_apps"
PREFIXES = ("DUMMYAPP", "TESTAPP", "MYAPP")


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> t.Iterator[Path]:
    """Each test gets its own instance folder, a clean environment and sys.modules."""
    for name in list(os.environ):
        if name.startswith(tuple(f"{p}_" for p in PREFIXES)) or name == "FLASK_DEBUG":
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    for prefix in PREFIXES:
        monkeypatch.setenv(f"{prefix}_INSTANCE_PATH", str(instance))
    monkeypatch.syspath_prepend(str(TEST_APPS))
    modules_before = set(sys.modules)
    entry_point_packages.cache_clear()
    yield instance
    for name in set(sys.modules) - modules_before:
        module = sys.modules[name]
        path = getattr(module, "__file__", None) or ""
        if path.startswith((str(TEST_APPS), str(tmp_path))):
            del sys.modules[name]
    entry_point_packages.cache_clear()


@pytest.fixture(autouse=True)
def _no_leaked_context() -> t.Iterator[None]:
    """Fail a test that leaves an app or request context pushed."""
    yield
    leaked_request = _cv_request.get(None)
    leaked_app = _cv_app.get(None)
    assert leaked_request is None, "the test leaked a request context"
    assert leaked_app is None, "the test leaked an app context"


@pytest.fixture
def instance_path(isolated: Path) -> Path:
    """The instance folder of the apps made in this test (not created yet)."""
    return isolated


@pytest.fixture
def write_instance_file(instance_path: Path) -> t.Callable[[str, str], Path]:
    """Write ``<instance>/<app_name>.cfg`` with the given source."""

    def write(app_name: str, source: str) -> Path:
        instance_path.mkdir(parents=True, exist_ok=True)
        path = instance_path / f"{app_name}.cfg"
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def make_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> t.Callable[[str, dict[str, str]], Path]:
    """Write a package ``name`` with ``{relative path: source}`` files and import it from there.

    ``__init__.py`` is added when not given.
    """
    root = tmp_path / "packages"
    root.mkdir(exist_ok=True)
    monkeypatch.syspath_prepend(str(root))

    def make(name: str, files: dict[str, str]) -> Path:
        folder = root / name.replace(".", "/")
        folder.mkdir(parents=True, exist_ok=True)
        files = {"__init__.py": "", **files}
        for relative, source in files.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source))
        return folder

    return make


@pytest.fixture
def make_app() -> t.Callable[..., Flask]:
    """``make_app(module_name=None, load=True, **config)`` for an app called ``testapp``."""

    def make(module_name: t.Any = None, load: bool = True, **config: t.Any) -> Flask:
        return appfactory("testapp", module_name, load=load, **config)

    return make
