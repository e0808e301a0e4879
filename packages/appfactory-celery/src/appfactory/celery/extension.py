"""The ``"appfactory.celery"`` entry of ``EXTENSIONS``."""

from __future__ import annotations

from flask import Flask

from .factory import celeryfactory


def setup_app(app: Flask) -> None:
    """Give ``app`` its Celery app (tasks are not imported: the web side stays small)."""
    celeryfactory(app, load_tasks=False)
