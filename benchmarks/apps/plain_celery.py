"""The floor's worker: a plain Celery app written by hand, with ours' Celery settings.

The settings are :func:`benchmarks.apps.celery_settings.celery_settings`, so
that a throughput ratio measures our code rather than the settings;
:mod:`benchmarks.apps.bare_celery` is the same
app with Celery's own defaults, to measure what the settings cost.

Broker and result backend: ``BENCH_BROKER_URL`` (the same Redis as the others).
"""

from __future__ import annotations

import os

from celery import Celery

from benchmarks.apps.celery_settings import celery_settings
from benchmarks.apps.counter import record

broker = os.environ.get("BENCH_BROKER_URL", "memory://")
celery = Celery("floor", broker=broker, backend=broker if broker.startswith("redis") else None)
celery.conf.update(celery_settings(), result_expires=600)


@celery.task(name="floor.trivial")
def trivial() -> None:
    """Count one completion."""
    record()
