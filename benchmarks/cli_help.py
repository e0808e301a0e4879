"""Metric ``cold_cli_help``: ``<app> --help`` as a whole process, with N = 50 packages.

Each round starts one process per system and times it from start to exit:

* floor: ``flask --app benchmarks.apps.plain:create_app --help`` (Flask loads
  the whole app to list its commands);
* ours: ``python -m benchmarks.apps.ours --help``, the app's
  ``clifactory(create_app)`` command, with the Celery extension configured;
* peer: ``python -m benchmarks.apps.invenio --help``, invenio-base's ``create_cli``.

Every command must list the packages' commands. Each system runs once before
the timed rounds, so every round finds the bytecode written and the files
cached, as a user's second command does. Every package's distribution
declares its command in ``appfactory.commands`` (see
:func:`benchmarks.synthetic.write_commands`), and every system sees those
distributions. One more run of ours, which lists ``sys.modules`` at exit,
checks that ``--help`` imports no package module at all (neither a
package, nor its ``config``, ``cli`` or ``views``) and no Celery (the same
check of the floor shows that it would see them).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from benchmarks.harness import (
    Case,
    Context,
    Goal,
    Metric,
    SystemFailed,
    interleave,
    tail,
    time_process,
)
from benchmarks.synthetic import PREFIX, command_name, instance_variable, package_name

NAME = "cold_cli_help"
#: ``--help`` against the least any Flask command line costs, at several N.
NAME_IMPORT = "cold_cli_help_vs_import"
METRICS = (NAME, NAME_IMPORT)
IMPORT_GOAL_RATIO = 1.10
IMPORT_COUNTS_FULL = (10, 50, 200)
IMPORT_COUNTS_QUICK = (10,)
GOAL_RATIO = 0.8
SYSTEMS = {
    "floor": "flask --app benchmarks.apps.plain:create_app {args} (loads the whole app)",
    "ours": "the app's clifactory(create_app) command {args} (configuration and commands only)",
    "peer": "invenio-base create_cli(create_app) {args} (loads the whole app)",
}


def commands(args: list[str]) -> dict[str, list[str]]:
    """The command line of each system, with ``args`` after the command."""
    python = [sys.executable, "-m"]
    return {
        "floor": [*python, "flask", "--app", "benchmarks.apps.plain:create_app", *args],
        "ours": [*python, "benchmarks.apps.ours", *args],
        "peer": [*python, "benchmarks.apps.invenio", *args],
    }


#: Runs a module as ``python -m`` would, and writes the names in ``sys.modules`` at exit.
#: (``python -X importtime`` would miss the modules imported by ``importlib.import_module``.)
MODULES_AT_EXIT = """
import atexit, json, os, runpy, sys
def _write():
    with open(os.environ["BENCH_MODULES_FILE"], "w") as handle:
        json.dump(sorted(sys.modules), handle)
atexit.register(_write)
runpy.run_module(sys.argv.pop(1), run_name="__main__", alter_sys=True)
"""


def imported_modules(module: str, args: list[str], env: dict[str, str], cwd: Path) -> set[str]:
    """The modules that ``python -m module args`` has imported when it exits."""
    out = cwd / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", MODULES_AT_EXIT, module, *args],
        env={**env, "BENCH_MODULES_FILE": str(out)},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0 or not out.is_file():
        raise SystemFailed(f"{module} {' '.join(args)} exited with {done.returncode}:\n"
                           f"{tail(done.stderr)}")  # fmt: skip
    return set(json.loads(out.read_text()))


def check_output(argv: list[str], env: dict[str, str], cwd: Path, expected: str) -> None:
    """Run ``argv`` once and fail unless it succeeds and prints ``expected``."""
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or expected not in done.stdout:
        raise SystemFailed(
            f"{' '.join(argv)} exited with {done.returncode} without printing {expected!r}:\n"
            f"{tail(done.stdout)}\n{tail(done.stderr)}"
        )


def run_case(
    ctx: Context, name: str, args: list[str], expected: str, check_imports: bool
) -> Metric:
    """Time ``<command> args`` of every system (N = 50 packages, 10 in quick mode)."""
    count = ctx.pick(50, 10)
    metric = Metric(
        name=name,
        title=f"cold '<app> {' '.join(args)}' as a whole process (N = {count})",
        unit="ms",
        better="lower",
        systems={system: text.format(args=" ".join(args)) for system, text in SYSTEMS.items()},
        goal=f"ours/floor <= {GOAL_RATIO:.2f}"
        + ("; ours imports no package module and no Celery" if check_imports else ""),
    )
    case = Case(f"n_{count}")
    metric.cases.append(case)
    ctx.log(f"{name}: N = {count}")
    cwd = ctx.workspace.folder("cwd")
    variables = {
        **instance_variable(ctx.workspace.folder("instance")),
        "BENCH_PACKAGES": str(count),
        "BENCH_CELERY": "1",
    }
    paths = [ctx.workspace.packages(count), ctx.workspace.commands(count)]
    # Only the peer's processes see the peer: its Flask plugin commands would
    # otherwise load in every system's command.
    envs = {system: ctx.env(paths, variables, peer=system == "peer") for system in SYSTEMS}
    argvs = commands(args)
    for system, argv in argvs.items():
        check_output(argv, envs[system], cwd, expected)
    goal = Goal.ratio_at_most(GOAL_RATIO)
    if check_imports:
        modules = imported_modules("benchmarks.apps.ours", args, envs["ours"], cwd)
        case.checks["imports_celery"] = any(
            m == "celery" or m.startswith("celery.") for m in modules
        )
        case.checks["imports_views"] = any(m.endswith(".views") for m in modules)
        case.checks["imports_package_module"] = any(m.startswith(PREFIX) for m in modules)
        floor = imported_modules("flask", argvs["floor"][3:], envs["floor"], cwd)
        case.checks["floor_imports_views"] = any(m.endswith(".views") for m in floor)
        goal = goal & Goal(
            "ours imports no package module and no Celery",
            lambda c: (
                not (
                    c.checks["imports_celery"]
                    or c.checks["imports_views"]
                    or c.checks["imports_package_module"]
                )
            ),
        )
    case.goal = goal

    def measure(system: str, _: int) -> float:
        return time_process(argvs[system], envs[system], cwd) * 1000

    case.samples = interleave(list(argvs), ctx.pick(20, 3), measure)
    return metric


def run_import_floor(ctx: Context) -> Metric:
    """``<app> --help`` of ours against ``python -c "import flask.cli"``, at several N.

    No Flask command line can start faster than its import of ``flask.cli``;
    a ``--help`` that imports no package stays within a constant of it, flat in N.
    """
    metric = Metric(
        name=NAME_IMPORT,
        title="cold '<app> --help' against the import of flask.cli, as whole processes",
        unit="ms",
        better="lower",
        systems={
            "floor": 'python -c "import flask.cli" (the least a Flask command line costs)',
            "ours": "the app's clifactory(create_app) command --help",
        },
        goal=f"ours/floor <= {IMPORT_GOAL_RATIO:.2f} at every N (flat in N)",
    )
    for count in ctx.pick(IMPORT_COUNTS_FULL, IMPORT_COUNTS_QUICK):
        case = Case(f"n_{count}")
        metric.cases.append(case)
        ctx.log(f"{NAME_IMPORT}: N = {count}")
        cwd = ctx.workspace.folder("cwd")
        variables = {
            **instance_variable(ctx.workspace.folder("instance")),
            "BENCH_PACKAGES": str(count),
            "BENCH_CELERY": "1",
        }
        paths = [ctx.workspace.packages(count), ctx.workspace.commands(count)]
        env = ctx.env(paths, variables, peer=False)
        argvs = {
            "floor": [sys.executable, "-c", "import flask.cli"],
            "ours": commands(["--help"])["ours"],
        }
        check_output(argvs["ours"], env, cwd, command_name(package_name(count - 1)))
        case.goal = Goal.ratio_at_most(IMPORT_GOAL_RATIO)

        def measure(system: str, _: int) -> float:
            return time_process(argvs[system], env, cwd) * 1000  # noqa: B023

        case.samples = interleave(list(argvs), ctx.pick(20, 3), measure)
    return metric


def run(ctx: Context) -> list[Metric]:
    return [
        run_case(ctx, NAME, ["--help"], command_name(package_name(0)), check_imports=True),
        run_import_floor(ctx),
    ]
