"""Flask's own Celery pattern ("Background Tasks with Celery" in Flask's docs).

``celery_init_app(app)`` makes a Celery app whose task class enters the Flask
app's context in ``__call__`` and calls ``run``; Celery reads its settings
from the app's ``CELERY`` dict. Written from the docs' description.
"""

from __future__ import annotations

import typing as t

from celery import Celery, Task
from flask import Flask


def celery_init_app(app: Flask, *, make_default: bool = True) -> Celery:
    """The docs' ``celery_init_app``: one Celery app bound to ``app``.

    ``make_default=False`` leaves Celery's default app alone, for a process
    that holds the other systems too (the eager metrics).
    """

    class FlaskTask(Task):  # type: ignore[misc]
        def __call__(self, *args: t.Any, **kwargs: t.Any) -> t.Any:
            with app.app_context():
                return self.run(*args, **kwargs)

    celery = Celery(app.name, task_cls=FlaskTask, set_as_current=make_default)
    celery.config_from_object(app.config["CELERY"])
    if make_default:
        celery.set_default()
    app.extensions["celery"] = celery
    return celery
