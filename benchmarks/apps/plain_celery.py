"""The floor's worker: a plain Celery app written by hand.

Broker and result backend: ``BENCH_BROKER_URL`` (the same Redis as the others).
"""

from __future__ import annotations

import os

from celery import Celery

from benchmarks.apps.counter import record

broker = os.environ.get("BENCH_BROKER_URL", "memory://")
celery = Celery("floor", broker=broker, backend=broker if broker.startswith("redis") else None)
celery.conf.update(result_expires=600, broker_connection_retry_on_startup=True)


@celery.task(name="floor.trivial")
def trivial() -> None:
    """Count one completion."""
    record()
