"""Problems that ``myapp check`` reports about Celery."""

from __future__ import annotations

import typing as t

from flask import Flask

from appfactory.core import AppFactoryError, Check, Level, Problem, check_table, mask_url

from .discovery import load_tasks
from .sessions import OUTBOX, outbox_enabled
from .state import require_state
from .validation import schedule_findings, settings_findings

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
        "Celery uses the embedded broker in the instance folder (no server, one machine, "
        "for development).",
        "Set CELERY_BROKER_URL to a Redis or RabbitMQ URL for production.",
        "Celery uses the embedded broker",
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
    Check(
        "AF310",
        "celery-url-invalid",
        Level.ERROR,
        "{setting} = {url!r} {problem}; every task sent fails.",
        "{advice}",
        "a broker or result backend URL with a bad port or scheme",
    ),
    Check(
        "AF311",
        "celery-library-missing",
        Level.ERROR,
        "{setting} = {url!r} needs the library {missing!r}, which is not installed; every "
        "task sent fails.",
        "Install it (pip install 'celery[{extra}]'), or choose another {what}.",
        "the library of a transport or result backend is missing",
    ),
    Check(
        "AF312",
        "celery-timeout-negative",
        Level.ERROR,
        "{setting} is {value}, a negative timeout; every connection made with it fails.",
        "Give a number of seconds of 0 or more, or remove the setting for Celery's default.",
        "a Celery timeout is negative",
    ),
    Check(
        "AF313",
        "route-router-unknown",
        Level.ERROR,
        "{setting} {problem}; every task sent fails.",
        "Name an importable router ('package.module.Router' or 'package.module:router'), "
        "or give a dict of task names to queues.",
        "``CELERY_TASK_ROUTES`` names a router that cannot be imported",
    ),
    Check(
        "AF314",
        "beat-schedule-malformed",
        Level.ERROR,
        "{where} {problem}; celery beat cannot run it.",
        "Give a dict of entries, each a dict with 'task' (a task name) and 'schedule' "
        "(seconds, a timedelta or a crontab), and optionally 'args', 'kwargs' and 'options'.",
        "a malformed ``CELERY_BEAT_SCHEDULE``",
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
    malformed = schedule_findings(state.settings)
    schedule = values.get("beat_schedule") if not malformed else None
    for entry, options in sorted((schedule or {}).items(), key=lambda item: str(item[0])):
        if options.get("task") not in tasks:
            problems.append(CHECKS["AF303"].problem(entry=entry, task=options.get("task")))
    findings = [*settings_findings(state.settings), *malformed]
    problems.extend(CHECKS[check_id].problem(**fields) for check_id, fields in findings)
    for name in _routed_names(values.get("task_routes")):
        if name not in tasks:
            problems.append(CHECKS["AF304"].problem(task=name))
    if values.get("broker_url") == "filesystem://":
        problems.append(CHECKS["AF305"].problem())
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


def _routed_names(routes: t.Any) -> list[str]:
    tables = routes if isinstance(routes, (list, tuple)) else [routes]
    names: list[str] = []
    for table in tables:
        if isinstance(table, dict):
            names.extend(k for k in table if isinstance(k, str) and not set("*?[") & set(k))
    return sorted(names)
