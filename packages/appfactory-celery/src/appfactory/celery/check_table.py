"""The checks of appfactory-celery, declared as data (the checks reference documents each)."""

from __future__ import annotations

from appfactory.core import Check, Level, check_table

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
