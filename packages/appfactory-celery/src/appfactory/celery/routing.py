"""Routing of shared tasks: the active Flask app's Celery app is Celery's current app.

``@shared_task`` proxies look their task up in Celery's current app. While a
Flask app's context is active in a thread, its Celery app is made current in
that thread; when the context ends, the app that was current before returns.
"""

from __future__ import annotations

import contextlib
import threading
import typing as t

from flask import Flask, appcontext_popped, appcontext_pushed

from celery import Celery, _state

_local = threading.local()


def _stack() -> list[tuple[Flask, t.Any]]:
    stack: list[tuple[Flask, t.Any]] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


class CurrentAppSwitch:
    """Makes ``celery`` current while a context of ``flask_app`` is active.

    Keep the object alive as long as the app (the signals hold it weakly).
    """

    def __init__(self, flask_app: Flask, celery: Celery) -> None:
        self.celery = celery
        appcontext_pushed.connect(self.pushed, flask_app)
        appcontext_popped.connect(self.popped, flask_app)

    def pushed(self, flask_app: Flask, **_: t.Any) -> None:
        """Remember the current Celery app and make ours current."""
        _stack().append((flask_app, getattr(_state._tls, "current_app", None)))
        self.celery.set_current()

    def popped(self, flask_app: Flask, **_: t.Any) -> None:
        """Bring back the Celery app that was current before the context."""
        stack = _stack()
        if stack and stack[-1][0] is flask_app:
            _state._set_current_app(stack.pop()[1])


@contextlib.contextmanager
def current_celery_app(celery: Celery) -> t.Iterator[Celery]:
    """Make ``celery`` Celery's current app in this thread for a ``with`` block."""
    previous = getattr(_state._tls, "current_app", None)
    celery.set_current()
    try:
        yield celery
    finally:
        _state._set_current_app(previous)
