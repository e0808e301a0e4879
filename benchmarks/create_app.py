"""Metric ``create_app``: create an app from N synthetic packages listed explicitly.

One child process per N imports the three systems and creates apps in rounds:
in each round, each system creates a batch of apps (the same batch size for
all, about ``target`` seconds of the floor's work), and the figure is the mean
time of one app in the batch. Every system is warmed up first (the packages'
modules are imported and, with entry points, scanned), so the figures are the
cost of creating an app in a process that has made one before: what every
test, worker and web process pays per app.
"""

from __future__ import annotations

import argparse
import gc
import time
import typing as t

from benchmarks.harness import Case, Context, Goal, Metric, emit, run_child
from benchmarks.synthetic import instance_variable, package_names

NAME = "create_app"
METRICS = (NAME,)
COUNTS_FULL = (1, 10, 50, 200)
COUNTS_QUICK = (1, 10)
#: The goal holds at these N; at N = 1 the fixed costs of any factory show.
GOAL_COUNTS = (10, 50, 200)
GOAL_RATIO = 1.10
#: Apps made between two ``gc.collect()`` calls in the collector-on metric.
SMALL_BATCH = 3

SYSTEMS = {
    "floor": "plain Flask factory: Flask(...), config.from_object per package, register_blueprint",
    "ours": "appfactory.core.appfactory(...) with PACKAGES = [...]",
    "peer": "invenio-base create_app_factory(blueprints=[...], config_loader=...)",
}
SYSTEMS_ENTRY_POINTS = {
    "floor": "plain Flask factory scanning the entry points itself, once per process",
    "ours": "appfactory.core.appfactory(...) with packages from the appfactory.packages group",
    "peer": "invenio-base create_app_factory(blueprint_entry_points=[...]) (scans per app)",
}


def factories(names: list[str], entry_points: bool) -> dict[str, t.Callable[[], t.Any]]:
    """The zero-argument app factory of each system."""
    from benchmarks.apps import invenio, ours, plain

    ours_create = ours.factory(names=None if entry_points else names, entry_points=entry_points)
    peer_create = invenio.factory(names=None if entry_points else names, entry_points=entry_points,
                                  commands=False)  # fmt: skip
    plain_names = None if entry_points else names

    def floor_create() -> t.Any:
        return plain.create_app(plain_names, entry_points=entry_points, commands=False)

    return {"floor": floor_create, "ours": ours_create, "peer": peer_create}


def describe(app: t.Any) -> tuple[int, int, int]:
    """What an app holds: URL rules, blueprints and the packages' settings."""
    settings = sum(1 for key in app.config if key.startswith("SYNTH_PKG_"))
    return len(app.url_map._rules), len(app.blueprints), settings


def time_batch(create: t.Callable[[], t.Any], size: int) -> float:
    """Milliseconds per app over a batch of ``size`` apps."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(size):
        create()
    return (time.perf_counter() - start) * 1000 / size


def time_collected_batches(create: t.Callable[[], t.Any], batches: int) -> float:
    """Milliseconds per app over ``batches`` batches of :data:`SMALL_BATCH` apps, each
    followed by ``gc.collect()``, timed with them: the collector stays on, and the
    work of collecting the apps' garbage counts, as in a suite that makes an app per test."""
    gc.collect()
    start = time.perf_counter()
    for _ in range(batches):
        for _ in range(SMALL_BATCH):
            create()
        gc.collect()
    return (time.perf_counter() - start) * 1000 / (batches * SMALL_BATCH)


def measure(
    count: int, entry_points: bool, rounds: int, target: float, collect: bool = False
) -> dict[str, t.Any]:
    """The child's work: warm up, check the systems build the same app, then rounds."""
    from benchmarks.harness import interleave

    creators = factories(package_names(count), entry_points)
    shapes = {system: describe(create()) for system, create in creators.items()}
    for create in creators.values():
        create()
    one = min(time_batch(creators["floor"], 1) for _ in range(3))
    if collect:
        batches = max(1, min(100, round(target * 1000 / (one * SMALL_BATCH))))
        samples = interleave(
            list(creators),
            rounds,
            lambda system, _: time_collected_batches(creators[system], batches),
        )
        return {"samples": samples, "shapes": shapes, "batch": batches * SMALL_BATCH}
    size = max(1, min(500, round(target * 1000 / one)))
    samples = interleave(
        list(creators), rounds, lambda system, _: time_batch(creators[system], size)
    )
    return {"samples": samples, "shapes": shapes, "batch": size}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument("--target", type=float, required=True)
    parser.add_argument("--entry-points", action="store_true")
    parser.add_argument("--collect", action="store_true", help="gc.collect() every 3 apps, timed")
    args = parser.parse_args(argv)
    emit(measure(args.count, args.entry_points, args.rounds, args.target, args.collect))


def run_metric(ctx: Context, entry_points: bool, collect: bool = False) -> Metric:
    """Run the metric (explicit or entry points, collector-on or not), one child per N."""
    name = f"{NAME}_entry_points" if entry_points else NAME
    title = (
        "create an app from N synthetic packages found through entry points"
        if entry_points
        else "create an app from N synthetic packages listed in PACKAGES"
    )
    if collect:
        name = f"{name}_gc"
        title += f", gc.collect() after every {SMALL_BATCH} apps, timed"
    metric = Metric(
        name=name,
        title=title,
        unit="ms",
        better="lower",
        systems=SYSTEMS_ENTRY_POINTS if entry_points else SYSTEMS,
        goal=f"ours/floor <= {GOAL_RATIO:.2f} at N = {', '.join(map(str, GOAL_COUNTS))}",
    )
    rounds = ctx.pick(15, 3)
    # Batches of half a second or more: with 200 packages an app is ~0.1 s, and a
    # batch of few apps would show whether a full garbage collection fell in it.
    target = ctx.pick(0.6, 0.04)
    for count in ctx.pick(COUNTS_FULL, COUNTS_QUICK):
        case = Case(f"n_{count}")
        metric.cases.append(case)
        ctx.log(f"{name}: N = {count}")
        # The packages' distributions declare their commands, as real ones do.
        paths = [ctx.workspace.packages(count), ctx.workspace.commands(count)]
        if entry_points:
            paths.append(ctx.workspace.entry_points(count))
        env = ctx.env(paths, instance_variable(ctx.workspace.folder("instance")))
        args = ["--count", str(count), "--rounds", str(rounds), "--target", str(target)]
        if entry_points:
            args.append("--entry-points")
        if collect:
            args.append("--collect")
        result = run_child(__name__, args, env)
        case.samples = result["samples"]
        shapes = {system: tuple(shape) for system, shape in result["shapes"].items()}
        case.checks["same_app"] = len(set(shapes.values())) == 1
        if not case.checks["same_app"]:
            case.error = f"the systems built different apps (rules, blueprints, settings): {shapes}"
        if collect:
            case.notes.append(f"{result['batch']} app(s) per round, {SMALL_BATCH} per collection")
        else:
            case.notes.append(f"{result['batch']} app(s) per batch")
        if count in GOAL_COUNTS:
            case.goal = Goal.ratio_at_most(GOAL_RATIO)
    return metric


def run(ctx: Context) -> list[Metric]:
    return [run_metric(ctx, entry_points=False)]


if __name__ == "__main__":
    main()
