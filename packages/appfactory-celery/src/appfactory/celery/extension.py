"""The ``"appfactory.celery"`` entry of ``EXTENSIONS``."""

from __future__ import annotations

from flask import Flask

from .factory import celeryfactory
from .outbox_commands import outbox_group


def setup_app(app: Flask) -> None:
    """Give ``app`` its Celery app (tasks are not imported: the web side stays small),
    and the ``outbox`` command."""
    celeryfactory(app, load_tasks=False)
    app.cli.add_command(outbox_group)
