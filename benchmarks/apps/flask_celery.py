"""The second peer's worker: Flask's own Celery pattern (:mod:`benchmarks.apps.flask_pattern`).

Same Celery settings as the floor (:func:`benchmarks.apps.celery_settings.celery_settings`).
Broker and result backend: ``BENCH_BROKER_URL``.
"""

from __future__ import annotations

import os

from flask import Flask

from benchmarks.apps.celery_settings import celery_settings
from benchmarks.apps.counter import record
from benchmarks.apps.flask_pattern import celery_init_app

broker = os.environ.get("BENCH_BROKER_URL", "memory://")
flask_app = Flask("benchflask")
flask_app.config["CELERY"] = {
    **celery_settings(),
    "broker_url": broker,
    "result_backend": broker if broker.startswith("redis") else None,
    "result_expires": 600,
}
celery = celery_init_app(flask_app)


@celery.task(name="flask.trivial")
def trivial() -> None:
    """Count one completion."""
    record()
