"""Metric ``eager_task_call_in_context``: eager ``task.delay()`` inside an active app context.

As :mod:`benchmarks.eager_task`, with each batch run inside an app context of
the system's own Flask app (the floor's plain task inside a plain Flask app's
context): what a view or a command that calls a task pays. Ours reuses the
active context; Flask-CeleryExt's ``AppContextTask`` overrides ``__call__``,
which turns off Celery's fast tracer path.
"""

from __future__ import annotations

from benchmarks.eager_task import run_metric
from benchmarks.harness import Context, Metric

NAME = "eager_task_call_in_context"
METRICS = (NAME,)
GOAL_RATIO = 1.05


def run(ctx: Context) -> list[Metric]:
    return [run_metric(ctx, NAME, in_context=True, goal=GOAL_RATIO)]
