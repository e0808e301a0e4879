"""The trivial tasks of ours, as a package declares them (``@shared_task``)."""

from __future__ import annotations

from celery import shared_task

from benchmarks.apps.counter import record


@shared_task(name="bench.trivial")
def trivial() -> None:
    """Count one completion."""
    record()


@shared_task(name="bench.noop")
def noop() -> None:
    """Nothing at all."""
