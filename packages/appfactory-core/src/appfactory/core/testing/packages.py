"""Packages that a test adds without installing them, for that test only.

``import_path(folder)`` makes the packages of a folder importable;
``make_package(name, files)`` writes one in a temporary folder. After the
test the folders leave ``sys.path``, the modules imported from them leave
``sys.modules``, and Celery forgets the shared tasks they defined, so the
next test can neither import them nor find their tasks in its Celery app.

To give such a package to one app, list it in that app's ``PACKAGES``, or
advertise it as an installed distribution would with
``PACKAGES_ENTRY_POINTS_EXTRA = {"entry-point name": "package"}``.
"""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
import typing as t
from pathlib import Path

import pytest

ImportPath = t.Callable[["str | os.PathLike[str]"], Path]
MakePackage = t.Callable[[str, t.Mapping[str, str]], Path]


def _under(path: str | None, folders: t.Sequence[str]) -> bool:
    if not path:
        return False
    return any(path == folder or path.startswith(folder + os.sep) for folder in folders)


def defined_under(module: t.Any, folders: t.Sequence[str]) -> bool:
    """Whether a module (or namespace package) was imported from one of ``folders``."""
    if _under(getattr(module, "__file__", None), folders):
        return True
    return any(_under(str(entry), folders) for entry in getattr(module, "__path__", None) or ())


class ImportPaths:
    """Folders put on ``sys.path`` for one test, and their clean-up."""

    def __init__(self, hook: t.Any) -> None:
        self.hook = hook
        self.folders: list[str] = []
        self.modules_before = set(sys.modules)

    def add(self, folder: str | os.PathLike[str]) -> Path:
        """Put ``folder`` first on ``sys.path`` until the end of the test."""
        path = Path(folder).resolve()
        if not path.is_dir():
            raise FileNotFoundError(
                f"import_path({os.fspath(folder)!r}): {path} is not a folder; give the "
                "folder that holds the packages to import."
            )
        self.folders.append(str(path))
        sys.path.insert(0, str(path))
        importlib.invalidate_caches()
        return path

    def clean_up(self) -> None:
        """Take the folders off ``sys.path`` and forget what was imported from them."""
        for folder in self.folders:
            while folder in sys.path:
                sys.path.remove(folder)
            sys.path_importer_cache.pop(folder, None)
        for name in set(sys.modules) - self.modules_before:
            module = sys.modules.get(name)
            if module is not None and defined_under(module, self.folders):
                del sys.modules[name]
        importlib.invalidate_caches()
        if self.folders:
            self.hook.pytest_appfactory_forget_folders(folders=list(self.folders))


def pytest_addhooks(pluginmanager: pytest.PytestPluginManager) -> None:
    from . import hookspecs

    pluginmanager.add_hookspecs(hookspecs)


@pytest.fixture
def import_path(request: pytest.FixtureRequest) -> t.Iterator[ImportPath]:
    """``import_path(folder)``: import packages from ``folder`` in this test only."""
    paths = ImportPaths(request.config.hook)
    yield paths.add
    paths.clean_up()


@pytest.fixture
def make_package(import_path: ImportPath, tmp_path: Path) -> MakePackage:
    """``make_package(name, {relative path: source})``: write a package for this test.

    Written under ``tmp_path / "packages"``, importable in this test only
    (``__init__.py`` is added when not given, sources are dedented); returns
    the package's folder. A dotted name makes a subpackage.
    """
    root = tmp_path / "packages"
    root.mkdir(exist_ok=True)
    import_path(root)

    def make(name: str, files: t.Mapping[str, str]) -> Path:
        folder = root / name.replace(".", os.sep)
        folder.mkdir(parents=True, exist_ok=True)
        for relative, source in {"__init__.py": "", **files}.items():
            path = folder / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(source), encoding="utf-8")
        importlib.invalidate_caches()
        return folder

    return make
