"""Wiring of tasks sent on commit and of the outbox into an app and its Celery app.

Nothing here imports SQLAlchemy: an app that never sends on commit, and a
web process that starts, do not pay for it.
"""

from __future__ import annotations

import typing as t

from flask import Flask

from appfactory.core import app_loaded, get_registry
from celery import Celery

from .relay import OutboxRelay
from .sessions import declare, outbox_enabled
from .state import get_state


def setup(flask_app: Flask, celery: Celery, extension: str) -> None:
    """Declare the settings, add the worker's relay step, and define the outbox table
    on Flask-SQLAlchemy's metadata once the app is loaded."""
    declare(flask_app, extension)
    celery.steps["worker"].add(OutboxRelay)
    app_loaded.connect(_on_app_loaded, weak=False)
    if get_registry(flask_app).loaded:
        _on_app_loaded(flask_app)


def _on_app_loaded(flask_app: Flask, **_: t.Any) -> None:
    # The signal is sent for every app: only those with a Celery app and the outbox on.
    if get_state(flask_app) is not None and outbox_enabled(flask_app):
        from .outbox import define_on_app_metadata

        define_on_app_metadata(flask_app)
