"""Fixtures shared by the appfactory-core tests.

appfactory's pytest plugin gives ``import_path`` and ``make_package``, and
fails a test that leaks an app or request context.
"""

from __future__ import annotations

import os
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest
from flask import Flask

from appfactory.core import appfactory, declared
from appfactory.core.packages import entry_point_packages

if t.TYPE_CHECKING:
    from appfactory.core.testing.packages import ImportPath

pytest_plugins = ["appfactory.core.testing", "pytester"]


def pytest_configure(config: pytest.Config) -> None:
    """Core's plugin alone, also where appfactory-celery is installed: core's suite
    tests Flask apps only (``-p no:appfactory.celery.testing`` does the same)."""
    config.pluginmanager.set_blocked("appfactory.celery.testing")


TEST_APPS = Path(__file__).parent / "test_apps"
PREFIXES = ("DUMMYAPP", "TESTAPP", "MYAPP")


@pytest.fixture(autouse=True)
def isolated(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, import_path: ImportPath
) -> t.Iterator[Path]:
    """Each test gets its own instance folder, a clean environment and sys.modules."""
    for name in list(os.environ):
        if name.startswith(tuple(f"{p}_" for p in PREFIXES)) or name == "FLASK_DEBUG":
            monkeypatch.delenv(name)
    instance = tmp_path / "instance"
    for prefix in PREFIXES:
        monkeypatch.setenv(f"{prefix}_INSTANCE_PATH", str(instance))
    import_path(TEST_APPS)
    modules_before = set(sys.modules)
    entry_point_packages.cache_clear()
    declared.clear_cache()
    yield instance
    for name in set(sys.modules) - modules_before:
        module = sys.modules[name]
        path = getattr(module, "__file__", None) or ""
        if path.startswith(str(tmp_path)):
            del sys.modules[name]
    entry_point_packages.cache_clear()
    declared.clear_cache()


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
def make_app() -> t.Callable[..., Flask]:
    """``make_app(module_name=None, load=True, **config)`` for an app called ``testapp``."""

    def make(module_name: t.Any = None, load: bool = True, **config: t.Any) -> Flask:
        return appfactory("testapp", module_name, load=load, **config)

    return make
