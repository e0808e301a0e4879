"""Problems that ``myapp check`` reports about Celery."""

from __future__ import annotations

import typing as t

from flask import Flask

from appfactory.core import Level, Problem

from .discovery import load_tasks
from .state import require_state


def celery_problems(flask_app: Flask) -> list[Problem]:
    """Unknown Celery settings, task name conflicts, schedules and routes to no task."""
    load_tasks(flask_app)
    state = require_state(flask_app)
    tasks = set(state.celery.tasks)
    problems = []
    for key, close in state.settings.unknown:
        hint = f"Rename it to {close}." if close else "Check Celery's list of settings."
        problems.append(
            Problem(
                "AF301",
                "celery-setting-unknown",
                Level.WARNING,
                f"{key} looks like a Celery setting but Celery has none of that name; "
                "it is not passed to Celery.",
                hint,
            )
        )
    for conflict in state.conflicts:
        problems.append(
            Problem(
                "AF302",
                "task-name-conflict",
                Level.ERROR,
                f"Task {conflict.name!r} is registered by packages {conflict.winner!r} and "
                f"{conflict.loser!r}; only the task of {conflict.winner!r} runs.",
                "Give one of the tasks another name: @shared_task(name='pkg.task').",
            )
        )
    values = state.settings.values
    schedule = values.get("beat_schedule") or {}
    for entry, options in sorted(schedule.items()):
        task = options.get("task") if isinstance(options, dict) else None
        if task not in tasks:
            problems.append(
                Problem(
                    "AF303",
                    "schedule-task-unknown",
                    Level.WARNING,
                    f"Beat schedule entry {entry!r} runs task {task!r}, which no package "
                    "registers.",
                    "Fix the task name, or add the package that defines it to PACKAGES.",
                )
            )
    for name in _routed_names(values.get("task_routes")):
        if name not in tasks:
            problems.append(
                Problem(
                    "AF304",
                    "route-task-unknown",
                    Level.WARNING,
                    f"CELERY_TASK_ROUTES routes task {name!r}, which no package registers.",
                    "Fix the task name, or add the package that defines it to PACKAGES.",
                )
            )
    if values.get("broker_url") == "filesystem://":
        problems.append(
            Problem(
                "AF305",
                "celery-embedded-broker",
                Level.INFO,
                "Celery uses the embedded broker in the instance folder (no server, one "
                "machine, for development).",
                "Set CELERY_BROKER_URL to a Redis or RabbitMQ URL for production.",
            )
        )
    return problems


def _routed_names(routes: t.Any) -> list[str]:
    tables = routes if isinstance(routes, (list, tuple)) else [routes]
    names: list[str] = []
    for table in tables:
        if isinstance(table, dict):
            names.extend(k for k in table if isinstance(k, str) and not set("*?[") & set(k))
    return sorted(names)
