"""Celery forgets the shared tasks of the packages a test added (``import_path``)."""

from __future__ import annotations

import os
import typing as t

from celery import _state


def _under(path: str | None, folders: t.Sequence[str]) -> bool:
    if not path:
        return False
    return any(path == folder or path.startswith(folder + os.sep) for folder in folders)


def _closure_value(function: t.Any, name: str) -> t.Any:
    code = getattr(function, "__code__", None)
    cells = getattr(function, "__closure__", None) or ()
    if code is None or name not in code.co_freevars:
        return None
    try:
        return cells[code.co_freevars.index(name)].cell_contents
    except (IndexError, ValueError):
        return None


def forget_shared_tasks(folders: t.Sequence[str]) -> int:
    """Make Celery forget the ``@shared_task`` functions defined in ``folders``.

    Celery registers every shared task ever defined in each Celery app made
    later; without this a test's tasks would reach the next tests' apps.
    Returns how many were forgotten.

    >>> forget_shared_tasks(["/a/folder/of/no/task"])
    0
    """
    forgotten = 0
    for callback in list(_state._on_app_finalizers):
        function = _closure_value(callback, "fun")
        code = getattr(function, "__code__", None)
        if code is not None and _under(code.co_filename, folders):
            _state._on_app_finalizers.discard(callback)
            forgotten += 1
    return forgotten


def pytest_appfactory_forget_folders(folders: t.Sequence[str]) -> None:
    """appfactory.core.testing's hook, after ``import_path``: forget the folders' tasks."""
    forget_shared_tasks(folders)
