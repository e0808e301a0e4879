"""Metric ``memory_1000_apps``: RSS over 1,000 apps created and dropped in one process.

One child process per system and round creates the apps one after another,
keeping none, and reads its resident set size (RSS) before the first app and
every ``1/10`` of the way. The figure is the growth from before the first app
to the end; the check is the growth over the second half, per app, which is
zero when nothing is kept per app (a leak shows there, whatever the caches
that the first apps fill). Every system imports the packages' modules before
the first reading, so that imports are not counted as apps.

With Celery, each app gets its Celery app: the floor a plain
``Celery(..., set_as_current=False)`` per Flask app, ours
``celeryfactory(app)``, the peer Flask-CeleryExt as shipped (whose default
configures Celery's one current app for every Flask app).
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib
import os
import typing as t
from pathlib import Path

from benchmarks.harness import Case, Context, Goal, Metric, emit, run_child
from benchmarks.synthetic import instance_variable, package_names

NAME = "memory_1000_apps"
METRICS = (NAME,)
GOAL_RATIO = 1.2
#: Second-half growth per app below which nothing is kept per app (RSS moves by pages).
FLAT_KIB_PER_APP = 1.0
MIB = 1024 * 1024
PAGE = 4096
#: A broker URL for every system's Celery app; no connection is made.
BROKER = "redis://127.0.0.1:6379/15"


def rss() -> int:
    """The resident set size of this process, in bytes."""
    try:
        import psutil
    except ImportError:
        with open("/proc/self/statm", encoding="ascii") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return int(psutil.Process().memory_info().rss)


def creator(system: str, names: list[str], celery: bool) -> t.Callable[[], t.Any]:
    """A function that creates one app (and its Celery app) of ``system``."""
    from benchmarks.apps import invenio, ours, plain

    if system == "ours":
        create = ours.factory(names=names, entry_points=False, celery=celery)
        if not celery:
            return create
        from appfactory.celery import celeryfactory

        return lambda: celeryfactory(create(CELERY_BROKER_URL=BROKER))
    if not celery:
        if system == "floor":
            return lambda: plain.create_app(names, entry_points=False, commands=False)
        return invenio.factory(names=names, entry_points=False, commands=False)
    if system == "floor":
        from celery import Celery

        def floor_create() -> t.Any:
            app = plain.create_app(names, entry_points=False, commands=False)
            worker = Celery(app.import_name, set_as_current=False)
            worker.conf.update(broker_url=BROKER, result_backend=BROKER)
            worker.flask_app = app
            worker.finalize(auto=True)
            app.extensions["celery"] = worker
            return worker

        return floor_create
    from flask_celeryext import FlaskCeleryExt

    def peer_create() -> t.Any:
        app = plain.create_app(names, entry_points=False, commands=False)
        app.config.update(CELERY_BROKER_URL=BROKER, CELERY_RESULT_BACKEND=BROKER)
        worker = FlaskCeleryExt(app).celery
        worker.finalize(auto=True)
        return worker

    return peer_create


def measure(system: str, count: int, apps: int, celery: bool) -> dict[str, t.Any]:
    """The child's work: RSS before the first app and at every tenth of ``apps``."""
    names = package_names(count)
    for name in names:
        for module in ("config", "views", "cli", *(("tasks",) if celery else ())):
            importlib.import_module(f"{name}.{module}")
    create = creator(system, names, celery)
    gc.collect()
    readings = [rss()]
    every = max(1, apps // 10)
    for index in range(1, apps + 1):
        create()
        if index % every == 0:
            gc.collect()
            readings.append(rss())
    return {"readings": readings, "every": every}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--system", choices=["floor", "ours", "peer"], required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--apps", type=int, required=True)
    parser.add_argument("--celery", action="store_true")
    args = parser.parse_args(argv)
    emit(measure(args.system, args.count, args.apps, args.celery))


def flat(case: Case) -> bool:
    """Whether ours kept nothing per app over the second half."""
    return bool(case.checks["second_half_kib_per_app"]["ours"] <= FLAT_KIB_PER_APP)


def one_run(
    ctx: Context,
    site: Path,
    count: int,
    apps: int,
    celery: bool,
    halves: dict[str, list[float]],
    system: str,
    _: int,
) -> float:
    """One child of ``system``: its RSS growth in MiB; notes its second-half growth per app."""
    env = ctx.env([site], instance_variable(ctx.workspace.folder("instance")))
    args = ["--system", system, "--count", str(count), "--apps", str(apps)]
    result = run_child(__name__, [*args, *(["--celery"] if celery else [])], env)
    readings = result["readings"]
    middle = readings[len(readings) // 2]
    halves.setdefault(system, []).append((readings[-1] - middle) / 1024 / (apps - apps // 2))
    # At least one page: RSS moves by pages, and a ratio needs a positive floor.
    return max(float(readings[-1] - readings[0]), PAGE) / MIB


def run(ctx: Context) -> list[Metric]:
    from benchmarks.harness import interleave

    apps = ctx.pick(1000, 100)
    count = 10
    metric = Metric(
        name=NAME,
        title=f"RSS growth over {apps} apps created and dropped in one process (N = {count})",
        unit="MiB",
        better="lower",
        systems={
            "floor": "plain Flask factory (with Celery: a plain Celery app per Flask app)",
            "ours": "appfactory (with Celery: celeryfactory(app) per app)",
            "peer": "invenio-base create_app_factory (with Celery: Flask-CeleryExt as shipped)",
        },
        goal=(
            f"ours/floor <= {GOAL_RATIO:.1f}; second half of the apps: "
            f"<= {FLAT_KIB_PER_APP:g} KiB per app"
        ),
    )
    site = ctx.workspace.packages(count)
    for celery in (False, True):
        case = Case("with_celery" if celery else "without_celery")
        metric.cases.append(case)
        ctx.log(f"{NAME}: {case.case}")
        halves: dict[str, list[float]] = {}
        measure_once = functools.partial(one_run, ctx, site, count, apps, celery, halves)
        case.samples = interleave(["floor", "ours", "peer"], ctx.pick(3, 2), measure_once)
        case.checks["second_half_kib_per_app"] = {
            system: round(max(values), 3) for system, values in halves.items()
        }
        case.notes.append("second_half_kib_per_app: the largest of the runs")
        case.goal = Goal.ratio_at_most(GOAL_RATIO) & Goal(
            f"ours <= {FLAT_KIB_PER_APP:g} KiB per app in the second half", flat
        )
    return [metric]


if __name__ == "__main__":
    main()
