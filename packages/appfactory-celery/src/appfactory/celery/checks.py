"""Problems that ``myapp check`` reports about Celery."""

from __future__ import annotations

import os
import typing as t

from flask import Flask

from appfactory.core import AppFactoryError, Problem, mask_url

from .check_table import CHECKS
from .discovery import load_tasks
from .sessions import OUTBOX, outbox_enabled
from .state import require_state
from .storepaths import SCHEME, STORE_NAME, path_from_url
from .validation import schedule_findings, settings_findings


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
