"""Metric ``create_app_entry_points``: the same apps, their packages found through entry points.

Each child process gets a folder of N generated ``dist-info`` folders on
``sys.path``, so importlib.metadata sees N installed distributions advertising
one package each. The floor scans the entry points itself, once per process;
invenio-base scans its blueprint group at every app creation, as it does; ours
reads the ``appfactory.packages`` group (cached, see
:func:`appfactory.core.packages.entry_point_packages`).
"""

from __future__ import annotations

from benchmarks.create_app import run_metric
from benchmarks.harness import Context, Metric

METRICS = ("create_app_entry_points",)


def run(ctx: Context) -> list[Metric]:
    return [run_metric(ctx, entry_points=True)]
