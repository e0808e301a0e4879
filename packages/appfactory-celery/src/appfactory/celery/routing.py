"""Routing of shared tasks: the active Flask app's Celery app is Celery's current app.

``@shared_task`` proxies look their task up in Celery's current app. While a
Flask app's context is active in a thread, its Celery app is made current in
that thread; when the context ends, the app that was current before returns.
"""

from __future__ import annotations

import contextlib
import functools
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


#: Where a Flask app keeps its :class:`CurrentAppSwitch`, in ``app.extensions``.
SWITCH_KEY = "appfactory.celery.routing"


def _pushed(flask_app: Flask, **_: t.Any) -> None:
    switch = flask_app.extensions.get(SWITCH_KEY)
    if switch is not None:
        switch.pushed(flask_app)


def _popped(flask_app: Flask, **_: t.Any) -> None:
    switch = flask_app.extensions.get(SWITCH_KEY)
    if switch is not None:
        switch.popped(flask_app)


@functools.cache
def _connect() -> None:
    # One receiver per signal for all apps, held strongly: blinker dispatches to it
    # faster, on every context push and pop, than to a weakly held method per app.
    appcontext_pushed.connect(_pushed, weak=False)
    appcontext_popped.connect(_popped, weak=False)


class CurrentAppSwitch:
    """Makes ``celery`` current while a context of ``flask_app`` is active.

    Kept in ``flask_app.extensions``, so it lives as long as the app.
    """

    def __init__(self, flask_app: Flask, celery: Celery) -> None:
        self.celery = celery
        flask_app.extensions[SWITCH_KEY] = self
        _connect()

    def pushed(self, flask_app: Flask, **_: t.Any) -> None:
        """Remember the current Celery app and make ours current."""
        _stack().append((flask_app, getattr(_state._tls, "current_app", None)))
        self.celery.set_current()

    def popped(self, flask_app: Flask, **_: t.Any) -> None:
        """Bring back the Celery app that was current before the context."""
        stack = _stack()
        # Contexts pop in the reverse order of their pushes, so entries above this
        # app's newest one are stale (pushed when no switch could see the pop).
        for index in range(len(stack) - 1, -1, -1):
            if stack[index][0] is flask_app:
                _state._set_current_app(stack[index][1])
                del stack[index:]
                return


@contextlib.contextmanager
def current_celery_app(celery: Celery) -> t.Iterator[Celery]:
    """Make ``celery`` Celery's current app in this thread for a ``with`` block."""
    previous = getattr(_state._tls, "current_app", None)
    celery.set_current()
    try:
        yield celery
    finally:
        _state._set_current_app(previous)
