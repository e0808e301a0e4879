"""How the app's and the packages' files are laid out once installed.

Mistakes of packaging that an editable install hides: a package folder
without ``__init__.py`` (a namespace package by accident), and a
blueprint's template or static folder that the built distribution left out.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from flask import Blueprint

#: What a reader does about a folder that is not installed.
PACKAGE_DATA_FIX = (
    "Keep the folder inside the package's folder (hatchling ships it), or list it as "
    "package data (setuptools: [tool.setuptools.package-data]), then reinstall the "
    "package without -e and check again."
)


def namespace_folders(name: str) -> list[str] | None:
    """The folders of ``name`` if it is an importable namespace package, else ``None``.

    >>> namespace_folders("json") is None
    True
    """
    module = sys.modules.get(name)
    if module is not None:
        if getattr(module, "__file__", None) is not None or not hasattr(module, "__path__"):
            return None
        return list(module.__path__)
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin not in (None, "namespace") or spec.has_location:
        return None
    return list(spec.submodule_search_locations or [])


def namespace_message(name: str, folders: list[str], what: str) -> str:
    """One line: ``name`` is a namespace package, and the file to add."""
    # The folder that holds modules is the one meant to be the package (the current
    # folder may hold a project folder of the same name).
    with_modules = [f for f in folders if any(n.endswith(".py") for n in _names(f))]
    where = (with_modules or folders or [name.replace(".", os.sep)])[0]
    return (
        f"{what} {name!r} is a namespace package: its folder {where} has no __init__.py, "
        f"so it has no root folder for templates and static files, and setuptools leaves "
        f"it out of a build. Add an empty {os.path.join(where, '__init__.py')} and reinstall."
    )


def _names(folder: str) -> list[str]:
    try:
        return os.listdir(folder)
    except OSError:
        return []


def missing_folders(blueprint: Blueprint) -> list[tuple[str, str]]:
    """``(kind, path)`` of the template and static folders ``blueprint`` names but
    that do not exist (``kind`` is ``"template"`` or ``"static"``)."""
    missing = []
    for kind, folder in (
        ("template", blueprint.template_folder),
        ("static", blueprint.static_folder),
    ):
        if folder is None:
            continue
        path = os.path.join(blueprint.root_path, os.fspath(folder))
        if not os.path.isdir(path):
            missing.append((kind, path))
    return missing
