"""A plain Celery app with Celery's own defaults (no safe defaults at all).

Against :mod:`benchmarks.apps.plain_celery` it measures what the safe
defaults cost on their own. Broker and result backend: ``BENCH_BROKER_URL``.
"""

from __future__ import annotations

import os

from celery import Celery

from benchmarks.apps.counter import record

broker = os.environ.get("BENCH_BROKER_URL", "memory://")
celery = Celery("bare", broker=broker, backend=broker if broker.startswith("redis") else None)
celery.conf.update(result_expires=600, broker_connection_retry_on_startup=True)


@celery.task(name="bare.trivial")
def trivial() -> None:
    """Count one completion."""
    record()
