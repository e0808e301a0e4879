"""Problems that ``myapp check`` reports about Celery."""

from __future__ import annotations

import os
import typing as t

from flask import Flask

from appfactory.core import AppFactoryError, Check, Level, Problem, check_table, mask_url

from .discovery import load_tasks
from .sessions import OUTBOX, outbox_enabled
from .state import require_state
from .storepaths import SCHEME, STORE_NAME, path_from_url

#: The checks of appfactory-celery, by id (the checks reference documents each).
CHECKS = check_table(
    Check(
        "AF301",
        "celery-setting-unknown",
        Level.WARNING,
        "{key} looks like a Celery setting but Celery has none of that name; it is not "
        "passed to Celery.",
        "{advice}",
        "a ``CELERY*``/``BROKER_*`` name Celery lacks",
    ),
    Check(
        "AF302",
        "task-name-conflict",
        Level.ERROR,
        "Task {task!r} is registered by packages {winner!r} and {loser!r}; only the task of "
        "{winner!r} runs.",
        "Give one of the tasks another name: @shared_task(name='pkg.task').",
        "two packages register the same task name",
    ),
    Check(
        "AF303",
        "schedule-task-unknown",
        Level.WARNING,
        "Beat schedule entry {entry!r} runs task {task!r}, which no package registers.",
        "Fix the task name, or add the package that defines it to PACKAGES.",
        "a beat schedule entry names no known task",
    ),
    Check(
        "AF304",
        "route-task-unknown",
        Level.WARNING,
        "CELERY_TASK_ROUTES routes task {task!r}, which no package registers.",
        "Fix the task name, or add the package that defines it to PACKAGES.",
        "a task route names no known task",
    ),
    Check(
        "AF305",
        "celery-embedded-broker",
        Level.INFO,
        "Celery uses {broker} (no server, workers and senders on this machine only).",
        "Set CELERY_BROKER_URL to a Redis or RabbitMQ URL to spread workers over machines.",
        "Celery uses the embedded broker (or kombu's ``filesystem://``)",
    ),
    Check(
        "AF306",
        "outbox-table-missing",
        Level.ERROR,
        "{problem}; every task sent on commit in a transaction fails.",
        "Create the table: db.create_all() (it is on db.metadata), or an Alembic migration; "
        "or set TASKS_OUTBOX = False.",
        "``TASKS_OUTBOX`` is on but its table is missing",
    ),
)


def celery_problems(flask_app: Flask) -> list[Problem]:
    """Unknown Celery settings, task name conflicts, schedules and routes to no task."""
    load_tasks(flask_app)
    state = require_state(flask_app)
    tasks = set(state.celery.tasks)
    problems = []
    for key, close in state.settings.unknown:
        advice = f"Rename it to {close}." if close else "Check Celery's list of settings."
        problems.append(CHECKS["AF301"].problem(key=key, advice=advice))
    for conflict in state.conflicts:
        problems.append(
            CHECKS["AF302"].problem(
                task=conflict.name, winner=conflict.winner, loser=conflict.loser
            )
        )
    values = state.settings.values
    schedule = values.get("beat_schedule") or {}
    for entry, options in sorted(schedule.items()):
        task = options.get("task") if isinstance(options, dict) else None
        if task not in tasks:
            problems.append(CHECKS["AF303"].problem(entry=entry, task=task))
    for name in _routed_names(values.get("task_routes")):
        if name not in tasks:
            problems.append(CHECKS["AF304"].problem(task=name))
    broker = _local_broker(
        flask_app, values.get("broker_url"), values.get("broker_transport_options")
    )
    if broker is not None:
        problems.append(CHECKS["AF305"].problem(broker=broker))
    if outbox_enabled(flask_app):
        problems.extend(_outbox_problems(flask_app))
    return problems


def _outbox_problems(flask_app: Flask) -> list[Problem]:
    """AF306 when the outbox is on but its table is missing (or its database unreachable)."""
    from .outbox import TABLE_NAME, database_engine, table_exists

    try:
        engine = database_engine(flask_app)
        where = repr(engine.url.render_as_string(hide_password=True))
        if table_exists(engine):
            return []
        message = f"{OUTBOX} is on, but the outbox table {TABLE_NAME!r} does not exist in {where}"
    except AppFactoryError as exc:
        message = f"{OUTBOX} is on, but the outbox's database is unknown: {exc}"
    except Exception as exc:
        message = (
            f"{OUTBOX} is on, but whether the outbox table {TABLE_NAME!r} exists could not be "
            f"checked: {type(exc).__name__}: {mask_url(str(exc)).splitlines()[0]}"
        )
    return [CHECKS["AF306"].problem(problem=message)]


def _local_broker(flask_app: Flask, url: t.Any, options: t.Any) -> str | None:
    """What AF305 says of a broker on this machine only, ``None`` for a server's."""
    if not isinstance(url, str):
        return None
    if url.startswith(f"{SCHEME}://"):
        path = path_from_url(url)
        default = os.path.join(flask_app.instance_path, "celery", STORE_NAME)
        where = "in the instance folder" if path == default else "named by CELERY_BROKER_URL"
        return f"the embedded broker, its store {path!r} {where}"
    if url.split("://")[0] == "filesystem":
        folder = (options or {}).get("data_folder_in") if isinstance(options, dict) else None
        return (
            f"kombu's filesystem transport (queue folder {folder!r}), named by "
            "CELERY_BROKER_URL: a worker killed while it holds tasks loses them"
        )
    return None


def _routed_names(routes: t.Any) -> list[str]:
    tables = routes if isinstance(routes, (list, tuple)) else [routes]
    names: list[str] = []
    for table in tables:
        if isinstance(table, dict):
            names.extend(k for k in table if isinstance(k, str) and not set("*?[") & set(k))
    return sorted(names)
