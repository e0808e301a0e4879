"""The peer's worker: a Flask app with Flask-CeleryExt as shipped (its ``AppContextTask``)."""

from __future__ import annotations

import os

from flask import Flask
from flask_celeryext import FlaskCeleryExt

from benchmarks.apps.counter import record

broker = os.environ.get("BENCH_BROKER_URL", "memory://")
flask_app = Flask("benchpeer")
flask_app.config.update(
    CELERY_BROKER_URL=broker,
    CELERY_RESULT_BACKEND=broker if broker.startswith("redis") else None,
    CELERY_RESULT_EXPIRES=600,
)
celery = FlaskCeleryExt(flask_app).celery


@celery.task(name="peer.trivial")
def trivial() -> None:
    """Count one completion."""
    record()
