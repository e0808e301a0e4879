"""Metric ``create_app_gc``: :mod:`benchmarks.create_app` with the collector's work timed.

A Flask app is a web of reference cycles, freed only by the garbage
collector. ``create_app`` collects before each batch, outside the timed
window, so the cost of collecting the apps it made is left out; a test suite
that makes an app per test pays it. Here the collector stays on, and each
round makes apps in batches of 3, each batch followed by ``gc.collect()``,
all timed; the figure is the time per app, collection included, paired with
plain Flask (and the peer) in the same child process.
"""

from __future__ import annotations

from benchmarks.create_app import run_metric
from benchmarks.harness import Context, Metric

METRICS = ("create_app_gc",)


def run(ctx: Context) -> list[Metric]:
    return [run_metric(ctx, entry_points=False, collect=True)]
