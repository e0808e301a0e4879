"""Metric ``eager_task_call``: ``task.delay()`` of a trivial task with ``task_always_eager``.

One child process builds the three systems and calls ``delay()`` on the bound
task object in batches, the systems alternating:

* floor: a task of a plain ``Celery`` app, no Flask at all;
* ours: ``bench.noop``, a ``@shared_task`` of a package, bound to the app's
  Celery app made by ``celeryfactory(app)`` (runs in the app context);
* peer: a task of Flask-CeleryExt's app, whose ``AppContextTask`` overrides
  ``__call__`` (runs in the app context);
* peer2: Flask's own pattern from its docs (``celery_init_app``, a task class
  whose ``__call__`` runs in the app context: :mod:`benchmarks.apps.flask_pattern`).

The floor and the second peer run with ours' Celery settings
(:mod:`benchmarks.apps.celery_settings`).

The figure is microseconds per call. :mod:`benchmarks.eager_task_in_context`
makes the same calls inside an app context that is already active.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import time
import typing as t

from benchmarks.harness import Case, Context, Goal, Metric, emit, interleave, run_child
from benchmarks.synthetic import instance_variable

NAME = "eager_task_call"
METRICS = (NAME,)
GOAL_RATIO = 1.10
SYSTEMS = {
    "floor": "plain Celery task (no Flask), ours' Celery settings",
    "ours": "appfactory.celery: @shared_task on AppContextTask (context around run)",
    "peer": "Flask-CeleryExt AppContextTask (overrides __call__)",
    "peer2": "Flask's docs: celery_init_app, FlaskTask.__call__ in app.app_context()",
}


def systems() -> dict[str, tuple[t.Any, t.Any]]:
    """``{system: (task, Flask app or None)}``, every Celery app eager."""
    from celery import Celery
    from flask import Flask
    from flask_celeryext import FlaskCeleryExt

    from appfactory.celery import celeryfactory
    from benchmarks.apps.celery_settings import celery_settings
    from benchmarks.apps.flask_pattern import celery_init_app
    from benchmarks.apps.ours import factory

    floor_celery = Celery("floor", set_as_current=False)
    floor_celery.conf.update(celery_settings(), task_always_eager=True, broker_url="memory://")

    @floor_celery.task(name="floor.noop")
    def floor_noop() -> None:
        return None

    floor_app = Flask("floor")

    create = factory(names=["benchmarks.apps.worktasks"], entry_points=False, celery=True)
    ours_app = create(CELERY_TASK_ALWAYS_EAGER=True, CELERY_BROKER_URL="memory://")
    ours_celery = celeryfactory(ours_app)

    peer_app = Flask("peer")
    peer_app.config.update(CELERY_TASK_ALWAYS_EAGER=True, CELERY_BROKER_URL="memory://")
    peer_celery = FlaskCeleryExt(peer_app).celery

    @peer_celery.task(name="peer.noop")
    def peer_noop() -> None:
        return None

    flask_app = Flask("peer2")
    flask_app.config["CELERY"] = {
        **celery_settings(),
        "task_always_eager": True,
        "broker_url": "memory://",
    }
    flask_celery = celery_init_app(flask_app, make_default=False)

    @flask_celery.task(name="peer2.noop")
    def flask_noop() -> None:
        return None

    return {
        "floor": (floor_celery.tasks["floor.noop"], floor_app),
        "ours": (ours_celery.tasks["bench.noop"], ours_app),
        "peer": (peer_celery.tasks["peer.noop"], peer_app),
        "peer2": (flask_celery.tasks["peer2.noop"], flask_app),
    }


def time_calls(task: t.Any, app: t.Any, calls: int, in_context: bool) -> float:
    """Microseconds per ``task.delay()`` over ``calls`` calls."""
    context = app.app_context() if in_context else contextlib.nullcontext()
    with context:
        gc.collect()
        start = time.perf_counter()
        for _ in range(calls):
            task.delay()
        return (time.perf_counter() - start) * 1e6 / calls


def measure(calls: int, rounds: int, in_context: bool) -> dict[str, t.Any]:
    """The child's work: check each task runs eagerly, warm up, then rounds."""
    found = systems()
    for system, (task, app) in found.items():
        result = task.delay()
        if not result.successful():
            raise RuntimeError(f"{system}: the eager task did not succeed: {result.result!r}")
        time_calls(task, app, max(10, calls // 10), in_context)
    samples = interleave(
        list(found), rounds, lambda system, _: time_calls(*found[system], calls, in_context)
    )
    return {"samples": samples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--in-context", action="store_true")
    args = parser.parse_args(argv)
    emit(measure(args.calls, args.rounds, args.in_context))


def run_metric(ctx: Context, name: str, in_context: bool, goal: float) -> Metric:
    """Run the eager calls, outside or inside an active app context."""
    metric = Metric(
        name=name,
        title="eager task.delay() of a trivial task"
        + (" inside an active app context" if in_context else ""),
        unit="us",
        better="lower",
        systems=SYSTEMS,
        goal=f"ours/floor <= {goal:.2f}",
    )
    case = Case("trivial_task")
    metric.cases.append(case)
    ctx.log(name)
    calls = ctx.pick(2000, 300)
    args = ["--calls", str(calls), "--rounds", str(ctx.pick(20, 3))]
    env = ctx.env([ctx.workspace.packages(0)], instance_variable(ctx.workspace.folder("instance")))
    result = run_child(__name__, [*args, *(["--in-context"] if in_context else [])], env)
    case.samples = result["samples"]
    case.goal = Goal.ratio_at_most(goal)
    case.notes.append(f"{calls} calls per batch")
    return metric


def run(ctx: Context) -> list[Metric]:
    return [run_metric(ctx, NAME, in_context=False, goal=GOAL_RATIO)]


if __name__ == "__main__":
    main()
