"""Finding the packages' tasks: the ``tasks`` module of each package, in order."""

from __future__ import annotations

import sys
import typing as t
import warnings

from flask import Flask

from appfactory.core import AppFactoryWarning, add_package_items, discover_modules
from celery import Celery, Task
from celery.local import Proxy

from .routing import current_celery_app
from .state import TaskConflict, require_state


def load_tasks(flask_app: Flask) -> None:
    """Import the ``tasks`` module of every package, in ``PACKAGES`` order, once."""
    state = require_state(flask_app)
    if state.tasks_loaded:
        return
    # {module name: package}: a package's tasks module is "<package>.tasks".
    found = discover_modules(flask_app, "tasks")
    modules = {module.__name__: module.__name__.rpartition(".")[0] for module in found}
    celery = state.celery
    names: dict[str, list[str]] = {}
    for name, task in sorted(celery.tasks.items()):
        package = modules.get(task.__module__)
        if package is not None:
            names.setdefault(package, []).append(name)
    for package, package_names in names.items():
        add_package_items(flask_app, package, "tasks", package_names)
    for module in found:
        module_name, package = module.__name__, modules[module.__name__]
        for value, task in _module_tasks(vars(module).values(), celery):
            owner = modules.get(task.__module__)
            if task.__module__ == module_name or owner is None or owner == package:
                continue
            # A task imported from the other package is the very same object there.
            imported = any(value is other for other in vars(sys.modules[task.__module__]).values())
            if imported:
                continue
            state.conflicts.append(TaskConflict(task.name, owner, package))
            warnings.warn(
                f"Task name {task.name!r} is registered by packages {owner!r} and "
                f"{package!r}; only the task of {owner!r} runs. Give one task another name.",
                AppFactoryWarning,
                stacklevel=2,
            )
    state.tasks_loaded = True


def _module_tasks(values: t.Iterable[t.Any], celery: Celery) -> t.Iterator[tuple[t.Any, Task]]:
    """``(module attribute, task)`` of the tasks among ``values``, as ``celery`` has them."""
    with current_celery_app(celery):
        for value in values:
            task = value
            if type(value) is Proxy:
                try:
                    task = value._get_current_object()
                except KeyError:
                    continue
            if isinstance(task, Task):
                yield value, task
