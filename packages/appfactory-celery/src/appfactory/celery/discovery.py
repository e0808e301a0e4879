"""Finding the packages' tasks: the ``tasks`` module of each package, in order."""

from __future__ import annotations

import sys
import typing as t
import warnings

from flask import Flask

from appfactory.core import AppFactoryWarning, get_registry, import_package_module
from celery import Celery, Task
from celery.local import Proxy

from .routing import current_celery_app
from .state import TaskConflict, require_state


def load_tasks(flask_app: Flask) -> None:
    """Import the ``tasks`` module of every package, in ``PACKAGES`` order, once."""
    state = require_state(flask_app)
    if state.tasks_loaded:
        return
    registry = get_registry(flask_app)
    modules = {}
    for info in registry.packages:
        module = import_package_module(info.name, "tasks")
        if module is not None:
            info.modules["tasks"] = module
            modules[module.__name__] = info.name
    celery = state.celery
    for name, task in sorted(celery.tasks.items()):
        package = modules.get(task.__module__)
        if package is not None:
            registry.package(package).extras.setdefault("tasks", []).append(name)
    for module_name, package in modules.items():
        module = registry.package(package).modules["tasks"]
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
