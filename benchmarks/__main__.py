"""Run the benchmarks: ``python -m benchmarks [--quick] [--json PATH] [--only NAME ...]``.

Prints one table (and the goals, checks and notes under it) to stdout, and
writes the same figures as JSON with ``--json``. Exits with status 1 when a
system under test fails; slowness never fails a run (the table says which
goals were missed).
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
import traceback
from pathlib import Path

from benchmarks.harness import Case, Context, Metric
from benchmarks.report import format_table, report
from benchmarks.synthetic import Workspace

#: The metric modules, in the order of the table; each has ``METRICS`` and ``run(ctx)``.
METRIC_MODULES = (
    "create_app",
    "create_app_entry_points",
    "create_app_gc",
    "memory",
    "cli_help",
    "cli_command",
    "eager_task",
    "eager_task_in_context",
    "worker",
    "on_commit",
)


def failed_metrics(module: object, short: str, error: str) -> list[Metric]:
    """Placeholders for the metrics of a module that failed before it reported them."""
    names = getattr(module, "METRICS", (short,))
    return [
        Metric(name, "(failed)", "", "lower", {"floor": ""}, "", [Case("all", error=error)])
        for name in names
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes and few rounds (CI)")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="MODULE",
        choices=METRIC_MODULES,
        help="run only these metric modules",
    )
    parser.add_argument(
        "--peer-site",
        type=Path,
        metavar="PATH",
        help="folder where the peers (invenio-base) are installed apart (pip install --target)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="appfactory-bench-"))
    # Absolute: some children run in another folder.
    peer_site = args.peer_site.resolve() if args.peer_site else None
    ctx = Context(quick=args.quick, workspace=Workspace(root), peer_site=peer_site)
    started = time.perf_counter()
    metrics: list[Metric] = []
    try:
        for short in args.only or METRIC_MODULES:
            module = importlib.import_module(f"benchmarks.{short}")
            ctx.log(f"== {short}")
            try:
                metrics.extend(module.run(ctx))
            except Exception:
                error = traceback.format_exc(limit=-3).rstrip()
                ctx.log(error)
                metrics.extend(failed_metrics(module, short, error))
    finally:
        if args.keep:
            ctx.log(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(format_table(metrics))
    print(f"\n{'quick' if args.quick else 'full'} run, {seconds:.0f} s")
    if args.json is not None:
        extra = [peer_site] if peer_site else []
        data = report(metrics, "quick" if args.quick else "full", seconds, extra)
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        print(f"JSON written to {args.json}")
    failed = [metric.name for metric in metrics if metric.failed]
    if failed:
        print(f"A system under test failed in: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
